"""Serving trained runs over HTTP (the optional extra ``mlbalance[serve]``: FastAPI and uvicorn).

:mod:`~mlbalance.serving.app` builds the application, :mod:`~mlbalance.serving.batcher` groups the
texts of requests that arrive together into one scoring call, ``page.html`` is the page at ``/``.
"""
