# Cython declarations of the C++ core's API (csrc/), one file per area of the
# core. Only _core.pyx and the .pxi files it includes cimport them.
