import { describe, expect, it, test } from 'vitest';
import { canonicalAddress, compareAddresses, formatAddress, parseAddress } from './admin-model.js';
import { VstunadmError, isVstunadmError, vstunadmErrorFromJSON } from './errors.js';
import { parseVstunadmArgs, type AdminCommand, type ListFormat } from './ipvsadm-args.js';

const words = (line: string): string[] => (line === '' ? [] : line.split(' '));

const LIST: ListFormat = {
  numeric: false,
  stats: false,
  rate: false,
  thresholds: false,
  persistentConn: false,
  exact: false,
  sort: true,
  tunInfo: false,
  json: false,
};
const list = (over: Partial<ListFormat> = {}): ListFormat => ({ ...LIST, ...over });
const tcp80 = { protocol: 'tcp' as const, vip: '10.0.0.1', port: 80 };
const IPIP = { tunType: 'ipip', tunPort: 0, tunChecksum: 'nocsum' } as const;

describe('valid argv -> command', () => {
  const cases: Array<{ argv: string; expected: AdminCommand }> = [
    { argv: '', expected: { kind: 'list', view: 'services', format: list() } },
    {
      argv: '-A -t 10.0.0.1:80',
      expected: { kind: 'add-service', service: { key: tcp80, scheduler: 'wlc', flags: [], onePacket: false } },
    },
    {
      argv: '-A -t 10.0.0.1:80 -s rr',
      expected: { kind: 'add-service', service: { key: tcp80, scheduler: 'rr', flags: [], onePacket: false } },
    },
    {
      argv: '-At 10.0.0.1:80 -s wrr -p',
      expected: { kind: 'add-service', service: { key: tcp80, scheduler: 'wrr', flags: [], onePacket: false, persistence: 300 } },
    },
    {
      argv: '-A -t 10.0.0.1:80 -p 600 -M 255.255.255.0',
      expected: {
        kind: 'add-service',
        service: { key: tcp80, scheduler: 'wlc', flags: [], onePacket: false, persistence: 600, netmask: '255.255.255.0' },
      },
    },
    {
      argv: '-A -t 10.0.0.1:80 -p -M 255.255.255.255',
      expected: { kind: 'add-service', service: { key: tcp80, scheduler: 'wlc', flags: [], onePacket: false, persistence: 300 } },
    },
    {
      argv: '-A -t 10.0.0.1 -p 60',
      expected: {
        kind: 'add-service',
        service: { key: { ...tcp80, port: 0 }, scheduler: 'wlc', flags: [], onePacket: false, persistence: 60 },
      },
    },
    {
      argv: '--add-service --udp-service=10.0.0.1:53 --scheduler=mh --sched-flags=mh-port,mh-fallback --ops',
      expected: {
        kind: 'add-service',
        service: { key: { protocol: 'udp', vip: '10.0.0.1', port: 53 }, scheduler: 'mh', flags: ['mh-fallback', 'mh-port'], onePacket: true },
      },
    },
    {
      // -b before -s, and flag-N names for sh, as ipvsadm allows.
      argv: '-E -b flag-2 -t [2001:DB8:0::1]:443 -s sh -p 120 -M 64',
      expected: {
        kind: 'edit-service',
        service: {
          key: { protocol: 'tcp', vip: '2001:db8::1', port: 443 },
          scheduler: 'sh',
          flags: ['sh-port'],
          onePacket: false,
          persistence: 120,
          netmask: 64,
        },
      },
    },
    { argv: '-D -t 10.0.0.1:80', expected: { kind: 'delete-service', service: tcp80 } },
    {
      argv: '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 3',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 3, forward: 'tunnel', ...IPIP } },
    },
    {
      argv: '-a -t 10.0.0.1:80 -r 10.0.1.2',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 1, forward: 'tunnel', ...IPIP } },
    },
    {
      // Tunnelling keeps the destination port: the service's port wins, as in ipvsadm.
      argv: '-at 10.0.0.1:80 -r 10.0.1.2:8080 -iw 0',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 0, forward: 'tunnel', ...IPIP } },
    },
    {
      argv: '--add-server --tcp-service 10.0.0.1:80 --real-server [2001:db8::a0a0]:80 --ipip --weight 65535',
      expected: { kind: 'add-server', service: tcp80, server: { address: '2001:db8::a0a0', port: 80, weight: 65535, forward: 'tunnel', ...IPIP } },
    },
    {
      argv: '-a -t 10.0.0.1:80 -r 2001:db8::5 -i -w 2 --tun-type ipip',
      expected: { kind: 'add-server', service: tcp80, server: { address: '2001:db8::5', port: 80, weight: 2, forward: 'tunnel', ...IPIP } },
    },
    {
      // ipvsadm(8) 1.31, EXAMPLE 3 (GUE tunnelling), with the checksum vstun sends over IPv4.
      argv: '-a -t 207.175.44.110:80 -r 192.168.10.1:80 -i --tun-type gue --tun-port 6080 --tun-nocsum',
      expected: {
        kind: 'add-server',
        service: { protocol: 'tcp', vip: '207.175.44.110', port: 80 },
        server: { address: '192.168.10.1', port: 80, weight: 1, forward: 'tunnel', tunType: 'gue', tunPort: 6080, tunChecksum: 'nocsum' },
      },
    },
    {
      // print_tunnel_rule's GUE form, as -S writes it and -R reads it back.
      argv: '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 1, forward: 'tunnel', tunType: 'gue', tunPort: 6080, tunChecksum: 'nocsum' } },
    },
    {
      // No checksum option: the one the data path sends (none over IPv4, always over IPv6).
      argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 --tun-type=gue --tun-port=7000',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 1, forward: 'tunnel', tunType: 'gue', tunPort: 7000, tunChecksum: 'nocsum' } },
    },
    {
      argv: '-a -t [2001:db8::1]:443 -r [2001:db8::a0a0]:443 -i -w 65535 --tun-type gue --tun-port 5555 --tun-csum',
      expected: {
        kind: 'add-server',
        service: { protocol: 'tcp', vip: '2001:db8::1', port: 443 },
        server: { address: '2001:db8::a0a0', port: 443, weight: 65535, forward: 'tunnel', tunType: 'gue', tunPort: 5555, tunChecksum: 'csum' },
      },
    },
    {
      argv: '-e -t [2001:db8::1]:443 -r [2001:db8::a0a0]:443 --tun-type gue --tun-port 5555',
      expected: {
        kind: 'edit-server',
        service: { protocol: 'tcp', vip: '2001:db8::1', port: 443 },
        server: { address: '2001:db8::a0a0', port: 443, weight: 1, forward: 'tunnel', tunType: 'gue', tunPort: 5555, tunChecksum: 'csum' },
      },
    },
    {
      argv: '-e -t 10.0.0.1:80 -r 10.0.1.2:80',
      expected: { kind: 'edit-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 1, forward: 'tunnel', ...IPIP } },
    },
    {
      // ipvsadm(8) EXAMPLE 1: masquerading. NAT may map the port (only NAT may).
      argv: '-a -t 207.175.44.110:80 -r 192.168.10.1:8080 -m',
      expected: {
        kind: 'add-server',
        service: { protocol: 'tcp', vip: '207.175.44.110', port: 80 },
        server: { address: '192.168.10.1', port: 8080, weight: 1, forward: 'masq', ...IPIP },
      },
    },
    {
      // -m without a port: the service's port (parse == 1 in ipvsadm's -r handling).
      argv: '--add-server -t 10.0.0.1:80 -r 10.0.1.2 --masquerading -w 2',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 2, forward: 'masq', ...IPIP } },
    },
    {
      // Direct routing keeps the destination port: the service's port wins, as in ipvsadm.
      argv: '-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -g -w 3',
      expected: { kind: 'add-server', service: tcp80, server: { address: '10.0.1.2', port: 80, weight: 3, forward: 'route', ...IPIP } },
    },
    {
      argv: '-e -t [2001:db8::1]:443 -r [2001:db8::a0a0]:8443 --gatewaying',
      expected: { kind: 'edit-server', service: { protocol: 'tcp', vip: '2001:db8::1', port: 443 }, server: { address: '2001:db8::a0a0', port: 443, weight: 1, forward: 'route', ...IPIP } },
    },
    { argv: '-d -t 10.0.0.1:80 -r 10.0.1.2', expected: { kind: 'delete-server', service: tcp80, server: { address: '10.0.1.2', port: 80 } } },
    { argv: '-L -n', expected: { kind: 'list', view: 'services', format: list({ numeric: true }) } },
    { argv: '-Ln', expected: { kind: 'list', view: 'services', format: list({ numeric: true }) } },
    { argv: '-l --stats', expected: { kind: 'list', view: 'services', format: list({ stats: true }) } },
    {
      argv: '--list --numeric --rate --exact --nosort --json',
      expected: { kind: 'list', view: 'services', format: list({ numeric: true, rate: true, exact: true, sort: false, json: true }) },
    },
    { argv: '-L -n --sort --thresholds', expected: { kind: 'list', view: 'services', format: list({ numeric: true, thresholds: true }) } },
    { argv: '-Lnc', expected: { kind: 'list', view: 'connections', format: list({ numeric: true }) } },
    { argv: '-L -c -u 10.0.0.1:53', expected: { kind: 'list', view: 'connections', service: { protocol: 'udp', vip: '10.0.0.1', port: 53 }, format: list() } },
    {
      argv: '-L -c --persistent-conn',
      expected: { kind: 'list', view: 'connections', format: list({ persistentConn: true }) },
    },
    { argv: '-L --timeout', expected: { kind: 'list', view: 'timeout', format: list() } },
    { argv: '-L --daemon', expected: { kind: 'list', view: 'daemon', format: list() } },
    {
      argv: '-Lnt 10.0.0.1:80 --stats',
      expected: { kind: 'list', view: 'services', service: tcp80, format: list({ numeric: true, stats: true }) },
    },
    { argv: '--set 900 120 300', expected: { kind: 'set-timeouts', timeouts: { tcp: 900, tcpfin: 120, udp: 300 } } },
    { argv: '--set 0 0 60', expected: { kind: 'set-timeouts', timeouts: { tcp: 0, tcpfin: 0, udp: 60 } } },
    { argv: '-C', expected: { kind: 'clear' } },
    { argv: '--clear', expected: { kind: 'clear' } },
    { argv: '-Z', expected: { kind: 'zero' } },
    { argv: '--zero -u 10.0.0.1:53', expected: { kind: 'zero', service: { protocol: 'udp', vip: '10.0.0.1', port: 53 } } },
    { argv: '-S', expected: { kind: 'save', numeric: false, json: false } },
    { argv: '-Sn', expected: { kind: 'save', numeric: true, json: false } },
    { argv: '--save --numeric --json', expected: { kind: 'save', numeric: true, json: true } },
    { argv: '-R', expected: { kind: 'restore' } },
    { argv: '--restore', expected: { kind: 'restore' } },
    { argv: '-h', expected: { kind: 'help' } },
    { argv: '--version', expected: { kind: 'version' } },
    {
      argv: 'explain -t 10.0.0.1:80 --client 198.51.100.7:51922',
      expected: { kind: 'explain', service: tcp80, client: { address: '198.51.100.7', port: 51922 }, json: false },
    },
    {
      argv: 'explain -u [2001:db8::1]:53 --client [2001:db8:ffff::1]:4000 --json',
      expected: {
        kind: 'explain',
        service: { protocol: 'udp', vip: '2001:db8::1', port: 53 },
        client: { address: '2001:db8:ffff::1', port: 4000 },
        json: true,
      },
    },
    { argv: 'counters', expected: { kind: 'counters', json: false } },
    { argv: 'counters --json', expected: { kind: 'counters', json: true } },
  ];

  test.each(cases)('$argv', ({ argv, expected }) => {
    expect(parseVstunadmArgs(words(argv))).toEqual(expected);
  });
});

describe('bad argv -> error code and a message that says what to fix', () => {
  const cases: Array<{ argv: string; code: string; message: RegExp }> = [
    // malformed addresses
    { argv: '-A -t 10.0.0:80', code: 'ERR_BAD_ADDRESS', message: /'10\.0\.0' is not a numeric IPv4 or IPv6 address/ },
    { argv: '-A -t 10.0.0.256:80', code: 'ERR_BAD_ADDRESS', message: /-t \(virtual service\)/ },
    { argv: '-A -t www.example.com:80', code: 'ERR_BAD_ADDRESS', message: /host names are not resolved/ },
    { argv: '-A -t 8080', code: 'ERR_BAD_ADDRESS', message: /give ADDRESS\[:PORT\]/ },
    { argv: '-A -t [2001:db8::1:80', code: 'ERR_BAD_ADDRESS', message: /without '\]'/ },
    { argv: '-A -t [10.0.0.1]:80', code: 'ERR_BAD_ADDRESS', message: /brackets are for IPv6/ },
    { argv: '-A -t 10.0.0.0/24:80', code: 'ERR_BAD_ADDRESS', message: /not a numeric/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.x -i', code: 'ERR_BAD_ADDRESS', message: /-r \(real server\)/ },
    // ports
    { argv: '-A -t 10.0.0.1:65536', code: 'ERR_BAD_PORT', message: /out of range; ports are 0\.\.65535/ },
    { argv: '-A -t 10.0.0.1:http', code: 'ERR_BAD_PORT', message: /service names are not resolved/ },
    { argv: '-A -t [2001:db8::1]:99999', code: 'ERR_BAD_PORT', message: /out of range/ },
    { argv: 'explain -t 10.0.0.1:80 --client 198.51.100.7', code: 'ERR_BAD_PORT', message: /give the client as IP:PORT/ },
    // scheduler and flags
    { argv: '-A -t 10.0.0.1:80 -s fastest', code: 'ERR_UNKNOWN_SCHEDULER', message: /unknown scheduler 'fastest'; use one of rr wrr lc wlc .* mh twos/ },
    { argv: '-A -t 10.0.0.1:80 -s rr -b mh-port', code: 'ERR_BAD_SCHED_FLAG', message: /needs -s mh, but the scheduler is rr/ },
    { argv: '-A -t 10.0.0.1:80 -b sh-port', code: 'ERR_BAD_SCHED_FLAG', message: /scheduler is wlc/ },
    { argv: '-A -t 10.0.0.1:80 -s mh -b flag-3', code: 'ERR_BAD_SCHED_FLAG', message: /no meaning for mh/ },
    { argv: '-A -t 10.0.0.1:80 -s sh -b sh-port,,', code: 'ERR_BAD_SCHED_FLAG', message: /invalid scheduler flag ''/ },
    // weights
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -w 65536', code: 'ERR_WEIGHT_RANGE', message: /illegal weight '65536'; give an integer 0\.\.65535/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -w -1', code: 'ERR_WEIGHT_RANGE', message: /'-1'/ },
    { argv: '-e -t 10.0.0.1:80 -r 10.0.1.2 -w heavy', code: 'ERR_WEIGHT_RANGE', message: /'heavy'/ },
    // forwarding methods
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -m --tun-type ipip', code: 'ERR_USAGE', message: /--tun-type conflicts with -m: tunnel options are only for tunnelling servers \(-i\)/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -g --tun-type gue --tun-port 6080', code: 'ERR_USAGE', message: /conflicts with -g/ },
    { argv: '-a -t 10.0.0.1:80 -r [2001:db8::5] -m', code: 'ERR_BAD_ADDRESS', message: /different address families; that is allowed only for tunnelling servers \(-i\)/ },
    { argv: '-a -t 10.0.0.1:80 -r [2001:db8::5] --gatewaying', code: 'ERR_BAD_ADDRESS', message: /only for tunnelling servers/ },
    { argv: '-a -t 10.0.0.1:0 -r 10.0.1.2:80 -m', code: 'ERR_UNSUPPORTED', message: /masquerading \(-m\) is not supported in a port-0 \(all ports\) service/ },
    // tunnel options (ipvsadm 1.31's tunnel_opt_check, then what the data path sends)
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type gue', code: 'ERR_USAGE', message: /the gue tunnel type needs the --tun-port option/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-port 6080', code: 'ERR_USAGE', message: /option --tun-port does not apply to the ipip tunnel type; it is for --tun-type gue/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type ipip --tun-nocsum', code: 'ERR_USAGE', message: /--tun-nocsum does not apply to the ipip tunnel type/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type gue --tun-port 0', code: 'ERR_BAD_PORT', message: /illegal tunnel port '0'; give --tun-port 1\.\.65535/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type gue --tun-port 6080 --tun-csum --tun-nocsum', code: 'ERR_DUPLICATE_OPTION', message: /--tun-csum and --tun-nocsum both set/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type gre', code: 'ERR_FORWARD_UNSUPPORTED', message: /tunnel type 'gre' is not supported; vstun's data path encapsulates with --tun-type ipip or --tun-type gue/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type vxlan', code: 'ERR_USAGE', message: /illegal tunnel type 'vxlan'; use --tun-type ipip or --tun-type gue/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type gue --tun-port 6080 --tun-remcsum', code: 'ERR_UNSUPPORTED', message: /remote checksum offload is not supported/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i --tun-type gue --tun-port 6080 --tun-csum', code: 'ERR_UNSUPPORTED', message: /--tun-csum: vstun sends GUE to IPv4 real servers without a UDP checksum; use --tun-nocsum/ },
    { argv: '-a -t 10.0.0.1:80 -r [2001:db8::5] -i --tun-type gue --tun-port 6080 --tun-nocsum', code: 'ERR_UNSUPPORTED', message: /IPv6 requires the UDP checksum \(RFC 8200\).*use --tun-csum/ },
    { argv: '-d -t 10.0.0.1:80 -r 10.0.1.2 --tun-type ipip', code: 'ERR_ILLEGAL_OPTION', message: /--tun-type does not apply to -d/ },
    // missing service / server
    { argv: '-A -s rr', code: 'ERR_MISSING_OPTION', message: /-A \(add-service\) needs the -t\|-u VIP:PORT option/ },
    { argv: '-a -r 10.0.1.2 -i', code: 'ERR_MISSING_OPTION', message: /needs the -t\|-u VIP:PORT option/ },
    { argv: '-a -t 10.0.0.1:80 -i', code: 'ERR_MISSING_OPTION', message: /needs the -r option/ },
    { argv: 'explain -t 10.0.0.1:80', code: 'ERR_MISSING_OPTION', message: /needs the --client option/ },
    // duplicates
    { argv: '-A -t 10.0.0.1:80 -s rr -s wrr', code: 'ERR_DUPLICATE_OPTION', message: /option -s given twice/ },
    { argv: '-A -t 10.0.0.1:80 -u 10.0.0.1:53', code: 'ERR_DUPLICATE_OPTION', message: /-t and -u both set/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -i -g', code: 'ERR_DUPLICATE_OPTION', message: /-i and -g both set/ },
    { argv: '-A -a -t 10.0.0.1:80', code: 'ERR_DUPLICATE_OPTION', message: /multiple commands specified \(-A and -a\)/ },
    { argv: '-L -L', code: 'ERR_DUPLICATE_OPTION', message: /multiple commands/ },
    // illegal / conflicting
    { argv: '-D -t 10.0.0.1:80 -s rr', code: 'ERR_ILLEGAL_OPTION', message: /option -s does not apply to -D/ },
    { argv: '-A -t 10.0.0.1:80 --json', code: 'ERR_ILLEGAL_OPTION', message: /--json applies to listings/ },
    { argv: '-d -t 10.0.0.1:80 -r 10.0.1.2 -w 2', code: 'ERR_ILLEGAL_OPTION', message: /-w does not apply to -d/ },
    // -L -c -t VIP:PORT is allowed (one service's connections); other pairs still conflict.
    { argv: '-L -c --timeout', code: 'ERR_OPTION_CONFLICT', message: /-c and --timeout cannot be combined/ },
    { argv: '-L -t 10.0.0.1:80 --timeout', code: 'ERR_OPTION_CONFLICT', message: /-t and --timeout cannot be combined/ },
    { argv: '-L -c --stats', code: 'ERR_OPTION_CONFLICT', message: /-c and --stats cannot be combined/ },
    { argv: '-L --timeout --persistent-conn', code: 'ERR_OPTION_CONFLICT', message: /--persistent-conn/ },
    // service consistency
    { argv: '-A -t 10.0.0.1', code: 'ERR_BAD_SERVICE', message: /zero port .* add -p/ },
    { argv: '-A -t 10.0.0.1:80 -o', code: 'ERR_BAD_SERVICE', message: /only for UDP services/ },
    // timeouts and masks
    { argv: '-A -t 10.0.0.1:80 -p 0', code: 'ERR_BAD_TIMEOUT', message: /persistence timeout '0'; give whole seconds 1\.\.2678400/ },
    { argv: '-A -t 10.0.0.1:80 -p 2678401', code: 'ERR_BAD_TIMEOUT', message: /2678401/ },
    { argv: '--set 900 120', code: 'ERR_USAGE', message: /--set needs three timeout values/ },
    { argv: '--set 900 x 300', code: 'ERR_BAD_TIMEOUT', message: /invalid tcpfin timeout 'x'/ },
    { argv: '-A -t 10.0.0.1:80 -p -M 255.0.255.0', code: 'ERR_BAD_NETMASK', message: /like 255\.255\.255\.0/ },
    { argv: '-A -t 10.0.0.1:80 -p -M 24', code: 'ERR_BAD_NETMASK', message: /dotted mask/ },
    { argv: '-A -t [2001:db8::1]:80 -p -M 129', code: 'ERR_BAD_NETMASK', message: /prefix length 1\.\.128/ },
    // usage
    { argv: '-t 10.0.0.1:80', code: 'ERR_USAGE', message: /no command given/ },
    { argv: '-A -t 10.0.0.1:80 rr', code: 'ERR_USAGE', message: /unexpected argument 'rr'/ },
    { argv: '-A -t', code: 'ERR_USAGE', message: /option -t needs a value/ },
    { argv: '-L --bogus', code: 'ERR_USAGE', message: /unknown option --bogus/ },
    { argv: '-Lq', code: 'ERR_USAGE', message: /unknown option -q/ },
    { argv: '-L --numeric=yes', code: 'ERR_USAGE', message: /takes no value/ },
    // ipvsadm features vstun lacks
    { argv: '-A -f 1 -s rr', code: 'ERR_UNSUPPORTED', message: /firewall-mark services are not supported; give the service as -t/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -x 10 -y 20', code: 'ERR_BAD_THRESHOLD', message: /lower threshold 20 is higher than upper threshold 10/ },
    { argv: '-a -t 10.0.0.1:80 -r 10.0.1.2 -x many', code: 'ERR_BAD_THRESHOLD', message: /illegal upper \(-x\) threshold 'many'/ },
    { argv: '-A -t 10.0.0.1:80 -x 5', code: 'ERR_ILLEGAL_OPTION', message: /-x/ },
    { argv: '--start-daemon master', code: 'ERR_UNSUPPORTED', message: /sync daemon/ },
  ];

  test.each(cases)('$argv -> $code', ({ argv, code, message }) => {
    let caught: unknown;
    try {
      parseVstunadmArgs(words(argv));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(VstunadmError);
    expect((caught as VstunadmError).code).toBe(code);
    expect((caught as VstunadmError).message).toMatch(message);
  });
});

describe('addresses', () => {
  // Expected forms are what glibc's inet_ntop prints (checked with Python's socket.inet_ntop).
  test.each([
    ['10.0.0.1', '10.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['::1', '::1'],
    ['::', '::'],
    ['::0.0.0.2', '::2'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['0:0:1::', '0:0:1::'],
    ['1::', '1::'],
  ])('%s -> %s', (input, canonical) => {
    expect(canonicalAddress(input)).toBe(canonical);
    expect(formatAddress(parseAddress(canonical))).toBe(canonical);
  });

  test.each(['', ' 10.0.0.1', '10.0.0.1/32', 'fe80::1%eth0', '010.0.0.1', '1.2.3', 'localhost'])('rejects %j', (input) => {
    expect(() => canonicalAddress(input)).toThrow(VstunadmError);
  });

  it('sorts numerically, IPv4 first', () => {
    const sorted = ['10.0.1.10', '2001:db8::1', '10.0.1.9', '::ffff:1.2.3.4', '9.255.255.255'].sort(compareAddresses);
    expect(sorted).toEqual(['9.255.255.255', '10.0.1.9', '10.0.1.10', '::ffff:1.2.3.4', '2001:db8::1']);
  });
});

describe('errors', () => {
  it('carry a stable code over the wire and are recognised across module copies', () => {
    const err = new VstunadmError('ERR_WEIGHT_RANGE', 'illegal weight', { line: 3 });
    const wire = JSON.parse(JSON.stringify(err));
    expect(wire).toEqual({ code: 'ERR_WEIGHT_RANGE', message: 'illegal weight', line: 3 });
    const back = vstunadmErrorFromJSON(wire);
    expect(back.code).toBe('ERR_WEIGHT_RANGE');
    expect(back.line).toBe(3);
    expect(isVstunadmError(back)).toBe(true);
    expect(isVstunadmError(new Error('x'))).toBe(false);
    const remote = vstunadmErrorFromJSON({ code: 'CONTROL_SOCKET_IN_USE', message: 'in use' });
    expect(remote.code).toBe('ERR_REMOTE');
    expect(remote.message).toBe('CONTROL_SOCKET_IN_USE: in use');
  });
});
