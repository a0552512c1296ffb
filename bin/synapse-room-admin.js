#!/usr/bin/env node
// The admin CLI (src/cli/admin.ts), run from its TypeScript source through tsx.
require('tsx/cjs');
require('../src/cli/admin.ts').main();
