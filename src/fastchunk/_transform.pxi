# Bindings for fused batch preprocessing (normalize, NaN replacement, casts); included by _core.pyx.
