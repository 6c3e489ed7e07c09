int phi2j_fake_jllama(void) { return 42; }
