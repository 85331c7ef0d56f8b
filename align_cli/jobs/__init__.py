"""Jobs: aligning a whole corpus into a file, in this process (:mod:`.local`) or on a Ray
cluster (:mod:`.ray`), safe to stop and resume."""
