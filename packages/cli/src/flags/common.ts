/** The flags every command takes, whatever it does: `--config`, `--json` and `--help`. */
import { CONFIG_FILE_NAME } from '../config-file.ts';
import type { FlagSpecs } from './spec.ts';

/** `--config <path>`, taken by every command. */
const CONFIG_FILE_FLAGS = {
  config: {
    type: 'string',
    placeholder: 'path',
    description: `Read options from this JSON file instead of ./${CONFIG_FILE_NAME}`,
  },
} as const satisfies FlagSpecs;

/** `--help`, taken by every command and every group of commands. */
export const HELP_FLAGS = {
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
} as const satisfies FlagSpecs;

/** `--json` and `--help`, taken by every command. */
const OUTPUT_FLAGS = {
  json: {
    type: 'boolean',
    description: 'Print exactly one JSON document on stdout: the result, or {"error": ...}',
  },
  ...HELP_FLAGS,
} as const satisfies FlagSpecs;

/** The flags every command ends with, in this order: `--config`, `--json`, `--help`. */
export const COMMON_FLAGS = { ...CONFIG_FILE_FLAGS, ...OUTPUT_FLAGS } as const;
