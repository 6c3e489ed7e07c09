# Writes manifest.json beside an installed engine: what it was built for and from. The Java side reads it to
# refuse a build made for another llama.cpp version or engine ABI before loading anything.
string(TIMESTAMP _now "%Y-%m-%dT%H:%M:%SZ" UTC)
string(REPLACE ";" "," _targets "${TARGETS}")
file(WRITE "${OUT}.tmp" "{\n  \"engine\": \"phi2j-native\",\n  \"engineAbi\": ${ENGINE_ABI},\n  \"library\": \"${LIBS}\",\n  \"preset\": \"${PRESET}\",\n  \"backend\": \"${BACKEND}\",\n  \"targets\": \"${_targets}\",\n  \"llamaCppVersion\": \"${VERSION}\",\n  \"llamaCppCommit\": \"${COMMIT}\",\n  \"compiler\": \"${COMPILER}\",\n  \"flags\": \"${FLAGS}\",\n  \"built\": \"${_now}\"\n}\n")
file(RENAME "${OUT}.tmp" "${OUT}")
