"""Input and output: where bytes come from (:mod:`.sources`: files, ``*.gz``, stdin and
pipes, each read once), corpora in (:mod:`.corpus`), alignment files in every format
(:mod:`.formats`), files written safely (:mod:`.files`: checks, atomic writes, locks), and
the crash-safe, resumable output of a run (:mod:`.writer` over :mod:`.outputs`, with
:mod:`.resume` and :mod:`.fingerprint` for what ``--resume`` checks)."""
