"""``xalign serve``: the aligner as an HTTP service, with a page to see and edit alignments.

* :mod:`~align_cli.serve.config`: where it listens and every limit a request can hit;
* :mod:`~align_cli.serve.schemas`: the JSON it reads and writes (pydantic models);
* :mod:`~align_cli.serve.batcher`: one worker thread runs the model on merged requests;
* :mod:`~align_cli.serve.variants`: per-request settings around the loaded model;
* :mod:`~align_cli.serve.service`: limits, batching and tag transfer, without HTTP;
* :mod:`~align_cli.serve.app`: the Starlette application; ``static/`` the web page;
* :mod:`~align_cli.serve.server`: uvicorn, in the foreground or in a thread.

Needs the ``serve`` extra (``pip install 'xalign[serve]'``). Nothing is imported here, so
that the command line can say so when it is missing.
"""
