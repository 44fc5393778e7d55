#!/usr/bin/env node
// Runs the compiled CLI (dist/). `npm ci` builds it through the `prepare` script.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
