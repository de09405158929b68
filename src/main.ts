#!/usr/bin/env -S node --max-semi-space-size=64 --min-semi-space-size=16
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { createApiKey } from './modules/accounts/api-keys.js';
import { runLedgerVerify } from './modules/ledger/cli.js';
import { runPaymentsRunDue } from './modules/payments/cli.js';
import { runRatesImport } from './modules/rating/cli.js';
import { openMigrated, serve } from './server.js';
import { OPERATOR, type Role } from './tenancy.js';

const USAGE = `Usage: tollgate <command>

Commands:
  serve                              start the HTTP server (default)
  migrate                            apply pending database migrations
  keys create --role admin [--description TEXT]
                                     create an operator admin key and print it once
  ledger verify                      check the ledger's invariants over the whole database;
                                     exits 1 on any break
  rates import <card> <file.csv> [--mode merge|replace] [--delimiter ';'] [--columns f1,f2] [--no-header]
                                     import a rate deck into a card, all or nothing; exits 1 when rejected
  payments run-due                   charge due recurring payments and reconcile pending/unknown
                                     transactions once (serve does it every PAYMENTS_JOB_INTERVAL_SECONDS)

Settings come from environment variables; see README.md.`;

async function migrateCommand() {
  const config = loadConfig();
  const handle = await openMigrated(config);
  await handle.close();
  console.log('migrations applied');
}

async function keysCommand(args: string[]) {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: 'string', default: 'admin' }, description: { type: 'string' } },
  });
  if (positionals[0] !== 'create') throw new UsageError('keys: only "keys create" is supported');
  if (values.role !== 'admin') {
    throw new UsageError(
      'keys create: only --role admin from the CLI; create partner and customer keys through the API',
    );
  }
  const handle = await openMigrated(loadConfig());
  try {
    const { key, secret } = await createApiKey(handle.db, OPERATOR, {
      role: values.role as Role,
      description: values.description ?? 'created with tollgate keys create',
    });
    console.log(secret);
    console.error(`created ${key.id} (role ${key.role}); the key above is shown only this once`);
  } finally {
    await handle.close();
  }
}

async function ledgerCommand(args: string[]) {
  if (args[0] !== 'verify' || args.length > 1)
    throw new UsageError('ledger: only "ledger verify" is supported');
  const handle = await openMigrated(loadConfig());
  try {
    process.exitCode = await runLedgerVerify(handle.db);
  } finally {
    await handle.close();
  }
}

async function ratesCommand(args: string[]) {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      mode: { type: 'string', default: 'merge' },
      delimiter: { type: 'string' },
      columns: { type: 'string' },
      'no-header': { type: 'boolean', default: false },
    },
  });
  const [action, cardId, file] = positionals;
  if (action !== 'import' || !cardId || !file || positionals.length > 3) {
    throw new UsageError('rates: usage is "rates import <card> <file.csv>"');
  }
  if (values.mode !== 'merge' && values.mode !== 'replace')
    throw new UsageError('rates import: --mode is merge or replace');
  const config = loadConfig();
  const handle = await openMigrated(config);
  try {
    process.exitCode = await runRatesImport(handle.db, cardId, file, {
      mode: values.mode,
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      header: !values['no-header'],
      ...(values.delimiter ? { delimiter: values.delimiter } : {}),
      ...(values.columns ? { columns: values.columns.split(',') } : {}),
    });
  } finally {
    await handle.close();
  }
}

async function paymentsCommand(args: string[]) {
  if (args[0] !== 'run-due' || args.length > 1)
    throw new UsageError('payments: only "payments run-due" is supported');
  const config = loadConfig();
  const handle = await openMigrated(config);
  try {
    process.exitCode = await runPaymentsRunDue(handle.db, config);
  } finally {
    await handle.close();
  }
}

class UsageError extends Error {}

async function main(argv: string[]) {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(loadConfig());
    case 'migrate':
      return migrateCommand();
    case 'keys':
      return keysCommand(rest);
    case 'ledger':
      return ledgerCommand(rest);
    case 'payments':
      return paymentsCommand(rest);
    case 'rates':
      return ratesCommand(rest);
    case 'help':
    case '--help':
      console.log(USAGE);
      return;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).catch((error) => {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(`tollgate: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`tollgate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
