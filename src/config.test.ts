import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

test('TRUST_PROXY and WEBHOOK_ALLOWED_NETWORKS take addresses in the form the allow-lists take', () => {
  for (const name of ['TRUST_PROXY', 'WEBHOOK_ALLOWED_NETWORKS']) {
    // ipaddr.js (and so proxy-addr) would read 010.0.0.1 as 8.0.0.1 and 10/8 as 0.0.0.10/8.
    for (const value of ['10.0.0.1,010.0.0.1', '10/8', '::ffff:10.0.0.0/64']) {
      assert.throws(() => loadConfig({ [name]: value }), ConfigError, `${name}=${value}`);
    }
  }
  assert.equal(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy, 'loopback, 10.0.0.0/8');
  assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
});

test('DIRECT_LANE is true by default, takes true or false, and refuses anything else', () => {
  assert.equal(loadConfig({}).directLane, true);
  assert.equal(loadConfig({ DIRECT_LANE: 'false' }).directLane, false);
  assert.equal(loadConfig({ DIRECT_LANE: 'true' }).directLane, true);
  for (const value of ['0', 'no', 'FALSE', 'off']) {
    assert.throws(() => loadConfig({ DIRECT_LANE: value }), /DIRECT_LANE must be true or false/, value);
  }
});
