/**
 * One schema per operation: every option of every operation (and of the migrator) carries the
 * metadata its flag and help are made from, and every option is a flag of its command but for
 * the few the command takes another way. A missing piece fails here instead of drifting.
 */
import test from 'ava';
import {
  configSchema,
  downOptionsSchema,
  OPERATION_SCHEMAS,
  optionMeta,
  scriptOptionsSchema,
  upOptionsSchema,
  type CommandName,
} from '@offloop/core';
import { COMMANDS } from 'offloop';
import type { z } from 'zod';
import { DOWN_SCRIPT } from '../../packages/cli/src/commands/down.ts';
import { UP_SCRIPT } from '../../packages/cli/src/commands/up.ts';
import { kebab } from '../../packages/cli/src/flags/option-flags.ts';
import {
  scriptRefusals,
  scriptRequest,
  type ScriptCarry,
} from '../../packages/cli/src/flags/script-flags.ts';

/** The command of each operation the CLI has one for (status, history and current take only `timeout`). */
const COMMAND_OF: Partial<Record<CommandName, string>> = {
  up: 'up',
  down: 'down',
  redo: 'redo',
  stamp: 'stamp',
  repair: 'repair',
  check: 'check',
  plan: 'plan',
  status: 'status',
  history: 'history',
  current: 'current',
};

/** Options a command takes another way, or not at all; every other option is one of its flags. */
const NOT_FLAGS: Partial<Record<CommandName, readonly string[]>> = {
  // The version is the command's argument (or --base).
  stamp: ['to'],
  // Read-only commands have no --timeout; plan's direction is --down, and from is sql()'s.
  check: ['timeout'],
  plan: ['direction', 'from', 'timeout'],
  status: ['timeout'],
  history: ['timeout'],
  current: ['timeout'],
};

function fields(schema: z.ZodObject): [string, z.ZodType][] {
  const shape: Record<string, z.ZodType> = schema.shape;
  return Object.entries(shape);
}

test('every option of every operation has a description, and a placeholder unless it is a switch', (t) => {
  for (const [operation, schema] of Object.entries(OPERATION_SCHEMAS)) {
    for (const [key, field] of fields(schema)) {
      const meta = optionMeta.get(field);
      t.truthy(meta?.description, `${operation}.${key} has no description`);
      const isSwitch = field.safeParse(true).success && !field.safeParse('x').success;
      if (!isSwitch) t.truthy(meta?.placeholder, `${operation}.${key} has no placeholder`);
    }
  }
});

test('every migrator option but cwd has the metadata of its flag', (t) => {
  for (const [key, field] of fields(configSchema)) {
    if (key === 'cwd') continue;
    t.truthy(optionMeta.get(field)?.description, `${key} has no description`);
    t.truthy(optionMeta.get(field)?.placeholder, `${key} has no placeholder`);
  }
});

test("every option of an operation is a flag of its command, with the option's description in its help", (t) => {
  for (const [operation, name] of Object.entries(COMMAND_OF) as [CommandName, string][]) {
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (command === undefined) return t.fail(`no command ${name}`);
    for (const [key, field] of fields(OPERATION_SCHEMAS[operation])) {
      if (NOT_FLAGS[operation]?.includes(key) === true) continue;
      const flag = command.flags[kebab(key)];
      t.truthy(flag, `offloop ${name} has no --${kebab(key)} for ${operation}.${key}`);
      t.is(flag?.description, optionMeta.get(field)?.description, `${name} --${kebab(key)}`);
    }
  }
});

const SCRIPTED = [
  ['up', upOptionsSchema, UP_SCRIPT],
  ['down', downOptionsSchema, DOWN_SCRIPT],
] as const;

for (const [name, schema, carry] of SCRIPTED)
  test(`${name} --sql: every option of ${name}() reaches the sql() request, or is refused with --sql`, (t) => {
    const how: Readonly<Record<string, true | string>> = carry;
    t.deepEqual(Object.keys(how).sort(), Object.keys(schema.shape).sort());
    // Every option set at once, each to a stand-in value of its own, which the types do not allow.
    const args = Object.fromEntries(Object.keys(how).map((key) => [key, { of: key }]));
    const loose = carry as unknown as ScriptCarry<Record<string, unknown>>;
    const request: Record<string, unknown> = scriptRequest(name, args, loose, 'base');
    const refused = scriptRefusals(args, loose).map((issue) => issue.path);
    for (const key of Object.keys(how)) {
      if (how[key] === true) {
        t.true(key in scriptOptionsSchema.shape, key);
        t.is(request[key], args[key], key);
      } else {
        t.false(key in request, key);
        t.true(refused.includes(`--${kebab(key)}`), key);
      }
    }
    t.like(request, { direction: name, from: 'base' });
  });
