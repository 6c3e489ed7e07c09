# The one place where the native source is pinned (scripts/build-native.sh reads these lines too).
#
# llama.cpp v0.5.0 (ggml 0.25.1), as the npm registry serves it inside node-llama-cpp 3.22.1: a git bundle of
# one squashed commit. The squash changes the commit id, not the files, so every route to the source (the
# bundle, --llama-src, a clone of the tag) is checked by its tree hash.
set(PHI2J_LLAMA_CPP_VERSION      "0.5.0")
set(PHI2J_LLAMA_CPP_TAG          "v0.5.0")
set(PHI2J_LLAMA_CPP_GIT          "https://github.com/ggml-org/llama.cpp.git")
set(PHI2J_LLAMA_CPP_COMMIT       "de3ff815ea7d559ee917f063901b8986f038abc6")
set(PHI2J_LLAMA_CPP_COMMIT_SHORT "de3ff81")
set(PHI2J_LLAMA_CPP_TREE         "fd570ef54b10ec5fecb739e7e04c8ce44a6f415a")
set(PHI2J_LLAMA_CPP_BUILD_NUMBER "0")  # the bundle has no upstream build count; the tag names the build
set(PHI2J_NPM_PACKAGE            "node-llama-cpp@3.22.1")
set(PHI2J_NPM_SHA256             "a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f")
set(PHI2J_NPM_BUNDLE             "package/llama/gitRelease.bundle")
set(PHI2J_NPM_BUNDLE_SHA256      "5f5d1105d5df040738d87b8290e5d17e7362131cdcfdb0831618e0ea528b4a51")
# Bumped whenever the JNI functions of native/src/jni.cpp change; the Java side refuses another value.
set(PHI2J_ENGINE_ABI             "6")
