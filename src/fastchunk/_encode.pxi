# Bindings for the chunk encoders used by `fastchunk rechunk`; included by _core.pyx.
