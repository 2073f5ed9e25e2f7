// Issue 11 bug 5: rescheduling an IPv6 connection (expire_nodest_conn=reschedule) must not
// free its client's address id while the entry still uses it. Removing and re-inserting
// the entry did: the next new client got the freed id and was matched to the old client's
// connection. The entry is now rebound in place (ConnTable.rebind).
import { describe, expect, test } from 'vitest';
import { FakeDevice } from '../device/fake-device.js';
import { firstPacket } from '../../test/fixtures/director/classify.js';
import { fixtureDirector } from '../../test/fixtures/director/fixture-director.js';
import { findAddressId, Ipv6AddressTable, parseAddressId } from './address-id.js';
import type { VirtualServiceSpec } from './virtual-service.js';

describe('IPv6 reschedule keeps the client address held', () => {
  test('a new client after a reschedule gets its own connection, not the moved one', () => {
    const dev = new FakeDevice({ headroom: 128 });
    const addresses = new Ipv6AddressTable(64);
    const dip6 = parseAddressId('fd77:2::1', addresses)!;
    const d = fixtureDirector(dev, { addresses, dipFor: () => dip6 });
    const svc = d.registry.addService({ protocol: 'tcp', vip: 'fd77::100', port: 80, scheduler: 'rr' } as VirtualServiceSpec);
    d.registry.addRealServer(svc, { address: 'fd77:3::2' });
    d.registry.addRealServer(svc, { address: 'fd77:3::3' });
    d.start();
    dev.inject([firstPacket('tcp', 'fd77::100', 80, 40000, 'fd77:1::2')]);
    const [c1] = d.connections();
    expect(c1.client).toBe('fd77:1::2');
    const from = svc.servers.find((rs) => rs.addressText === c1.realServer)!;
    const moved = d.applyNodestPolicy(from, 'reschedule');
    expect(moved).toEqual({ expired: 0, rescheduled: 1 });
    expect(from.inactConns + from.activeConns).toBe(0);
    expect(findAddressId('fd77:1::2', addresses)).not.toBeNull();
    expect(d.connections().map((c) => [c.client, c.realServer])).toEqual([['fd77:1::2', svc.servers.find((rs) => rs !== from)!.addressText]]);
    // Same ports, another client: must be a connection of its own.
    dev.inject([firstPacket('tcp', 'fd77::100', 80, 40000, 'fd77:1::3')]);
    expect(d.connections().map((c) => c.client).sort()).toEqual(['fd77:1::2', 'fd77:1::3']);
    // Counts moved with the entry: one per connection, none left over.
    expect(svc.servers.reduce((n, rs) => n + rs.inactConns + rs.activeConns, 0)).toBe(2);
    d.table.clear();
    expect(findAddressId('fd77:1::2', addresses)).toBeNull();
  });
});
