"""How long this project's HTTP servers keep an idle connection open: longer than any client pool keeps one.

A client reuses a pooled connection until its own expiry (httpx: 5 s). A server that closes idle connections
at about that moment (uvicorn's default is 5 s) races it: a request written on a connection the server is
closing gets no answer (ReadError), and the sender of a webhook or of a stock file cannot tell whether it
was applied. A server that holds idle connections well past the clients' expiry leaves the closing to the
client, and the race is gone.
"""

SERVER_KEEP_ALIVE_SECONDS = 75  # as nginx
