"""Teaching a translation model to align: ``xalign train``.

:mod:`.targets` (word links to what each decoder row is taught), :mod:`.data` (a
corpus and its teacher links streamed into shuffled batches), :mod:`.objective` (the
guided-alignment loss on one head, and the translation loss beside it) and
:mod:`.trainer` (the run: teacher links, epochs, checkpoints, the saved model and its
``xalign.json``).
"""
