"""`rakuten-connector demo`: the whole system on this machine (`run.py`), with a live view (`view.py`)."""
