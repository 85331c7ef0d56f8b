"""Input and output: corpora in (:mod:`.corpus`), alignment files in every format
(:mod:`.formats`), and the crash-safe, resumable output writer (:mod:`.writer`)."""
