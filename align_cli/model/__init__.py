"""The model stage: resolve ``--model`` and load it (:mod:`.loading`); the kernels that make
the forward pass fast (:mod:`.kernels`)."""
