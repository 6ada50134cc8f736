-- Replays pre-signed webhook requests, each one once: line k of the file goes to wrk thread k mod N.
-- A line: path, webhook-id, webhook-timestamp, webhook-signature and the JSON body, separated by tabs.
-- Once a thread has sent all its lines it sends a harmless request (GET /healthz), counted apart.
local threads = {}
local thread_count = tonumber(os.getenv("REPLAY_THREADS") or "1")
local next_index = 0

function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

function init(args)
  requests, sent, spare = {}, 0, 0
  local k = 0
  for line in io.lines(os.getenv("REPLAY_FILE")) do
    if k % thread_count == index then
      local path, id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
      }
      table.insert(requests, wrk.format("POST", path, headers, body))
    end
    k = k + 1
  end
  total = #requests
  idle = wrk.format("GET", "/healthz")
end

function request()
  sent = sent + 1
  if sent <= #requests then
    return requests[sent]
  end
  spare = spare + 1
  return idle
end

function done(summary, latency, requests)
  local events, idles = 0, 0
  for _, thread in ipairs(threads) do
    local count, lines, extra = thread:get("sent"), thread:get("total"), thread:get("spare")
    events = events + math.min(count, lines)
    idles = idles + extra
  end
  io.write(string.format("REPLAY events_sent=%d spare=%d\n", events, idles))
end
