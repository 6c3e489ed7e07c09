# CPU only: the same backend as the jar's bundled library, built for this machine's CPU features.
set(PHI2J_BACKEND "cpu" CACHE STRING "")
set(GGML_NATIVE ON CACHE BOOL "")
