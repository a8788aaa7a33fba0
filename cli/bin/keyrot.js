#!/usr/bin/env node
// The keyrot CLI runs from its TypeScript source through tsx: no build step to forget.
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS entry point */
require('tsx/cjs');
require('../src/main.ts');
