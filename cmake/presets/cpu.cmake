# CPU only, built for this machine's CPU features (GGML_NATIVE): the fastest build for the machine it was made on.
set(PHI2J_BACKEND "cpu" CACHE STRING "")
set(GGML_NATIVE ON CACHE BOOL "")
