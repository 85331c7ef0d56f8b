"""Tools built on the aligners and the formats: evaluation, the layer/head sweep, the
pictures of ``xalign show``, format conversion and symmetrisation of files, tag transfer."""
