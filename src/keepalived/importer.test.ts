// One golden per keepalived construct: the keepalived text, the vstun config it becomes (a
// subset of the service or server), and the notes it leaves, each with its line. Every
// result also goes through the director's real config validation.
import { describe, expect, it } from 'vitest';
import { validateDirectorConfig } from '../control/config-loader.js';
import { parseKeepalivedText } from './conf-parser.js';
import { importKeepalived } from './importer.js';

type Json = Record<string, unknown>;

/** Imports `text`, checks the director accepts it, returns the services and "line: message" notes. */
function run(text: string): { services: Json[]; director?: Json; notes: string[] } {
  const r = importKeepalived(parseKeepalivedText(text));
  validateDirectorConfig(r.config, 'imported');
  return { services: r.config.services, director: r.config.director, notes: r.notes.map((n) => `${n.line}: ${n.message}`) };
}

/** A TUN virtual_server 192.0.2.1 80 around `body` (line 1 is the virtual_server line). */
const vs = (body: string, head = '192.0.2.1 80') => `virtual_server ${head} {\nlb_kind TUN\n${body}\n}\n`;
const rs = (body: string, head = '10.0.0.1 80') => `real_server ${head} {\n${body}\n}`;

describe('keepalived import: one golden per construct', () => {
  it.each([
    { description: 'delay_loop → interval, lb_algo → scheduler, protocol', text: vs('delay_loop 7\nlb_algo wrr\nprotocol UDP\n' + rs('weight 3\nTCP_CHECK {\n}')), service: { protocol: 'udp', scheduler: 'wrr', healthCheck: { interval: 7, kind: 'tcp' } }, notes: [] },
    { description: 'lvs_sched (keepalived 2 name)', text: vs('lvs_sched mh\nmh-port\nmh-fallback\n' + rs('')), service: { scheduler: 'mh', flags: ['mh-port', 'mh-fallback'] }, notes: [] },
    { description: 'a flag of another scheduler is named', text: vs('lvs_sched rr\nsh-port\n' + rs('')), service: { scheduler: 'rr' }, notes: ['4: sh-port: not carried (a flag of the sh scheduler; this service uses rr)'] },
    { description: 'an unknown scheduler is named; wlc is used', text: vs('lb_algo loadbalance\n' + rs('')), service: { realServers: [{ address: '10.0.0.1' }] }, notes: [expect.stringMatching(/^3: lb_algo loadbalance: not carried \("loadbalance" is not a scheduler/)] },
    { description: 'lvs_method TUN type gue port N → gue to every server', text: `virtual_server 192.0.2.1 80 {\nlvs_method TUN type gue port 6080\n${rs('')}\n}\n`, service: { realServers: [{ address: '10.0.0.1', tunnel: 'gue', guePort: 6080 }] }, notes: [] },
    { description: 'GUE checksum options are named', text: `virtual_server 192.0.2.1 80 {\nlvs_method TUN type gue port 6080 remcsum\n${rs('')}\n}\n`, service: { realServers: [{ tunnel: 'gue' }] }, notes: ["2: lvs_method: remcsum: not carried (vstun's GUE has no checksum options)"] },
    { description: 'a per-server lvs_method overrides the service', text: vs(rs('lvs_method TUN type gue port 7000')), service: { realServers: [{ tunnel: 'gue', guePort: 7000 }] }, notes: [] },
    { description: 'TUN type gre is named, ipip used', text: `virtual_server 192.0.2.1 80 {\nlvs_method TUN type gre\n${rs('')}\n}\n`, service: { realServers: [{ address: '10.0.0.1' }] }, notes: ['2: lvs_method TUN type gre: not carried (vstun tunnels with ipip or gue); IPIP is used'] },
    { description: 'NAT is named as not carried yet', text: `virtual_server 192.0.2.1 80 {\nlb_kind NAT\n${rs('')}\n}\n`, service: {}, notes: [expect.stringMatching(/^2: lb_kind NAT: forwarding method NAT is not carried yet/)] },
    { description: 'DR is named as not carried yet', text: `virtual_server 192.0.2.1 80 {\nlvs_method DR\n${rs('')}\n}\n`, service: {}, notes: [expect.stringMatching(/^2: lvs_method DR: forwarding method DR is not carried yet/)] },
    { description: 'no method: keepalived`s default NAT is named', text: `virtual_server 192.0.2.1 80 {\n${rs('')}\n}\n`, service: {}, notes: [expect.stringMatching(/^1: virtual_server 192.0.2.1 80: keepalived's default forwarding method NAT/)] },
    { description: 'persistence_timeout and persistence_granularity', text: vs('persistence_timeout 300\npersistence_granularity 255.255.255.0\n' + rs('')), service: { persistence: 300, netmask: '255.255.255.0' }, notes: [] },
    { description: 'persistence_timeout without a value is keepalived`s 6 minutes', text: vs('persistence_timeout\n' + rs('')), service: { persistence: 360 }, notes: [] },
    { description: 'granularity without persistence is named', text: vs('persistence_granularity 24\n' + rs('')), service: {}, notes: ['3: persistence_granularity 24: not carried (only used with persistence_timeout)'] },
    { description: 'SCTP is refused', text: vs('protocol SCTP\n' + rs('')), services: [], notes: ['3: virtual_server 192.0.2.1 80: refused: protocol SCTP is not carried (vstun balances TCP and UDP)'] },
    { description: 'sorry_server (its port is the service`s in VS/TUN)', text: vs('sorry_server 10.9.9.9 8080\n' + rs('TCP_CHECK {\n}')), service: { healthCheck: { sorryServer: { address: '10.9.9.9' } } }, notes: ['3: sorry_server port 8080: VS/TUN keeps the destination port, so the sorry server gets the service port'] },
    { description: 'sorry_server without any checker: servers are not checked (kind none)', text: vs('sorry_server 10.9.9.9\n' + rs('')), service: { healthCheck: { kind: 'none', sorryServer: { address: '10.9.9.9' }, startUp: true } }, notes: [] },
    { description: 'quorum, hysteresis, quorum_up, quorum_down', text: vs('quorum 3\nhysteresis 1\nquorum_up "/bin/up a"\nquorum_down /bin/down\n' + rs('TCP_CHECK {\n}')), service: { healthCheck: { quorum: 3, hysteresis: 1, quorumUp: '/bin/up a', quorumDown: '/bin/down' } }, notes: [] },
    { description: 'a script`s user is named', text: vs('quorum_up /bin/up nobody\n' + rs('')), service: { healthCheck: { quorumUp: '/bin/up', kind: 'none' } }, notes: ["3: quorum_up user nobody: the user/group is not carried; scripts run as the director's user"] },
    { description: 'inhibit_on_failure on the service', text: vs('inhibit_on_failure\n' + rs('TCP_CHECK {\n}')), service: { healthCheck: { inhibitOnFailure: true } }, notes: [] },
    { description: 'inhibit_on_failure, notify_up, notify_down on a server', text: vs(rs('inhibit_on_failure\nnotify_up "/bin/n up"\nnotify_down /bin/d\nTCP_CHECK {\n}') + '\n' + rs('TCP_CHECK {\n}', '10.0.0.2 80')), service: { realServers: [{ address: '10.0.0.1', healthCheck: { inhibitOnFailure: true, notifyUp: '/bin/n up', notifyDown: '/bin/d' } }, { address: '10.0.0.2' }] }, notes: [] },
    { description: 'weight, uthreshold, lthreshold', text: vs(rs('weight 5\nuthreshold 100\nlthreshold 50')), service: { realServers: [{ address: '10.0.0.1', weight: 5, upperThreshold: 100, lowerThreshold: 50 }] }, notes: [] },
    { description: 'TCP_CHECK connect_port, bindto, connect_ip, connect_timeout', text: vs(rs('TCP_CHECK {\nconnect_port 8081\nbindto 192.0.2.9\nconnect_ip 10.0.0.5\nconnect_timeout 2\n}')), service: { healthCheck: { kind: 'tcp', port: 8081, bindAddress: '192.0.2.9', host: '10.0.0.5', timeout: 2 } }, notes: [] },
    { description: 'keepalived defaults made explicit: delay_loop 60, connect_timeout 5, retry 1, start up', text: vs(rs('TCP_CHECK {\n}')), service: { healthCheck: { interval: 60, timeout: 5, fall: 2, rise: 1, retryInterval: 1, startUp: true } }, notes: [] },
    { description: 'retry and delay_before_retry → fall and retryInterval; nb_get_retry is retry', text: vs(rs('TCP_CHECK {\nretry 4\ndelay_before_retry 2\n}') + '\n' + rs('TCP_CHECK {\nnb_get_retry 4\ndelay_before_retry 2\n}', '10.0.0.2 80')), service: { healthCheck: { fall: 5, retryInterval: 2 } }, notes: [] },
    { description: 'values set on the virtual_server are the checkers` defaults', text: vs('delay_loop 9\nconnect_timeout 4\nretry 2\ndelay_before_retry 6\n' + rs('TCP_CHECK {\n}')), service: { healthCheck: { interval: 9, timeout: 4, fall: 3, retryInterval: 6 } }, notes: [] },
    { description: 'alpha: servers start down', text: vs('alpha\n' + rs('TCP_CHECK {\n}')), service: { healthCheck: { startUp: false } }, notes: [] },
    { description: 'omega is named', text: vs('omega\n' + rs('')), service: {}, notes: ['3: omega: not carried (vstun runs no notify or quorum scripts at shutdown)'] },
    { description: 'HTTP_GET url path, status_code list, virtualhost, regex', text: vs('virtualhost www.example.com\n' + rs('HTTP_GET {\nurl {\npath /health\nstatus_code 200 301-302\nregex "ok|up"\n}\n}')), service: { healthCheck: { kind: 'http', path: '/health', expectStatus: [200, '301-302'], virtualHost: 'www.example.com', bodyRegex: 'ok|up', retryInterval: 3 } }, notes: [] },
    { description: 'HTTP_GET digest is named', text: vs(rs('HTTP_GET {\nurl {\npath /\ndigest 640205b7b0fc66c1ea91c463fac6334d\n}\n}')), service: { healthCheck: { kind: 'http', path: '/' } }, notes: ['7: digest 640205b7b0fc66c1ea91c463fac6334d: not carried (vstun does not compare a body digest; use status_code or regex)'] },
    { description: 'several urls: one check each, all must pass', text: vs(rs('HTTP_GET {\nurl {\npath /a\n}\nurl {\npath /b\n}\n}')), service: { healthCheck: { checks: [{ kind: 'http', path: '/a' }, { kind: 'http', path: '/b' }] } }, notes: [] },
    { description: 'SSL_GET → https with sni_name as the virtual host', text: vs(rs('SSL_GET {\nsni_name api.example\nurl {\npath /\n}\n}')), service: { healthCheck: { kind: 'https', virtualHost: 'api.example' } }, notes: [] },
    { description: 'MISC_CHECK misc_path with arguments, misc_timeout; misc_dynamic named', text: vs(rs('MISC_CHECK {\nmisc_path "/usr/local/bin/check.sh arg1 \'two words\'"\nmisc_timeout 4\nmisc_dynamic\n}')), service: { healthCheck: { kind: 'exec', script: '/usr/local/bin/check.sh', args: ['arg1', 'two words'], timeout: 4, fall: 1 } }, notes: ["7: misc_dynamic: not carried (the weight does not follow the script`s exit code; exit 0 = up, other = down)"] },
    { description: 'DNS_CHECK type and name (retry default 3)', text: vs(rs('DNS_CHECK {\nconnect_port 53\ntype aaaa\nname example.org\n}')), service: { healthCheck: { kind: 'dns', port: 53, dnsType: 'AAAA', dnsName: 'example.org', fall: 4 } }, notes: [] },
    { description: 'SMTP_CHECK helo_name and hosts: one check per host, port 25 by default', text: vs(rs('SMTP_CHECK {\nhelo_name mx.example\nhost {\nconnect_ip 10.0.0.1\n}\nhost {\nconnect_ip 10.0.0.7\nconnect_port 587\n}\n}')), service: { healthCheck: { checks: [{ kind: 'smtp', heloName: 'mx.example', port: 25 }, { kind: 'smtp', host: '10.0.0.7', port: 587 }] } }, notes: [] },
    { description: 'PING_CHECK', text: vs(rs('PING_CHECK {\nretry 4\n}')), service: { healthCheck: { kind: 'ping', fall: 5 } }, notes: [] },
    { description: 'UDP_CHECK payload and require_reply', text: vs('protocol UDP\n' + rs('UDP_CHECK {\npayload 0a0b 0c\nrequire_reply\n}')), service: { healthCheck: { kind: 'udp', payload: 'hex:0a0b0c' } }, notes: [] },
    { description: 'UDP_CHECK without require_reply is named', text: vs('protocol UDP\n' + rs('UDP_CHECK {\n}')), service: { healthCheck: { kind: 'udp' } }, notes: [expect.stringMatching(/^5: UDP_CHECK without require_reply passes in keepalived/)] },
    { description: 'several checkers on one server: all must pass', text: vs(rs('TCP_CHECK {\n}\nPING_CHECK {\n}')), service: { healthCheck: { checks: [{ kind: 'tcp' }, { kind: 'ping' }] } }, notes: [] },
    { description: 'FILE_CHECK and BFD_CHECK are named', text: vs(rs('FILE_CHECK {\ntrack_file f\n}\nBFD_CHECK {\nname b\n}\nTCP_CHECK {\n}')), service: { healthCheck: { kind: 'tcp' } }, notes: [expect.stringMatching(/^4: FILE_CHECK: not carried/), expect.stringMatching(/^7: BFD_CHECK: not carried/)] },
    { description: 'servers without checkers next to checked ones get kind none', text: vs(rs('TCP_CHECK {\n}') + '\n' + rs('', '10.0.0.2 80')), service: { realServers: [{ address: '10.0.0.1', healthCheck: { kind: 'tcp' } }, { address: '10.0.0.2', healthCheck: { kind: 'none' } }] }, notes: [] },
    { description: 'a real server port other than the service`s is named; its checks use it', text: vs(rs('TCP_CHECK {\n}', '10.0.0.1 8080')), service: { healthCheck: { kind: 'tcp', port: 8080 } }, notes: ["3: real_server 10.0.0.1 8080: VS/TUN keeps the destination port, so traffic goes to the service's port 80; the server's checks use port 8080"] },
    { description: 'ops on UDP → onePacket', text: vs('protocol UDP\nops\n' + rs('')), service: { onePacket: true }, notes: [] },
    { description: 'ops on TCP is named', text: vs('ops\n' + rs('')), service: {}, notes: ['3: ops: not carried (one-packet scheduling is for UDP services)'] },
    { description: 'an unknown keyword is named', text: vs('frobnicate 1\n' + rs('')), service: {}, notes: ['3: frobnicate: not carried (not a virtual_server keyword vstun knows)'] },
    { description: 'an IPv6 virtual server', text: vs(rs('', '2001:db8::10 80'), '2001:DB8::1 80'), service: { vip: '2001:db8::1', realServers: [{ address: '2001:db8::10' }] }, notes: [] },
  ])('$description', ({ text, service, services, notes }) => {
    const r = run(text);
    if (services !== undefined) expect(r.services).toEqual(services);
    else expect(r.services[0]).toMatchObject(service!);
    expect(r.notes).toEqual(notes);
  });

  it('virtual_server_group: addresses, last-octet ranges, prefixes; fwmark entries refused', () => {
    const r = run(`virtual_server_group G {\n192.0.2.1 80\n192.0.2.10-12 443\n198.51.100.0/31 53\nfwmark 7\n}\nvirtual_server group G {\nlb_kind TUN\npersistence_timeout 60\n${rs('')}\n}\n`);
    expect(r.services.map((s) => `${s.vip}:${s.port}`)).toEqual(['192.0.2.1:80', '192.0.2.10:443', '192.0.2.11:443', '192.0.2.12:443', '198.51.100.0:53', '198.51.100.1:53']);
    expect(r.notes).toEqual(['5: virtual_server_group G entry fwmark 7: refused: vstun has no firewall-mark services', "10: real_server 10.0.0.1 80: VS/TUN keeps the destination port, so traffic goes to the service's ports 80, 443, 53"]);
  });

  it.each([
    { description: 'a fwmark virtual_server', text: 'virtual_server fwmark 1 {\n}\n', note: '1: virtual_server fwmark 1: refused: vstun has no firewall-mark services; define one virtual_server per VIP and port' },
    { description: 'an unknown group', text: 'virtual_server group NOPE {\n}\n', note: '1: virtual_server group NOPE: refused: no virtual_server_group NOPE is defined' },
    { description: 'a bad VIP', text: 'virtual_server 10.0.0.300 80 {\n}\n', note: '1: "10.0.0.300" is not an IPv4 or IPv6 address; the line is not carried' },
    { description: 'a range too large to expand', text: 'virtual_server_group G {\n10.0.0.0/16 80\n}\nvirtual_server group G {\n}\n', note: '2: virtual_server_group entry 10.0.0.0/16: refused: 65536 addresses; at most 256 per entry are expanded into services' },
    { description: 'no port and no persistence', text: 'virtual_server 192.0.2.1 {\nlb_kind TUN\n}\n', note: '1: virtual_server 192.0.2.1 without a port: refused: an all-ports service needs persistence_timeout' },
    { description: 'the same service twice', text: `${vs('')}${vs('')}`, note: '5: virtual_server TCP 192.0.2.1 80: refused: the same service is already defined above' },
  ])('refuses $description, naming the line', ({ text, note }) => {
    expect(run(text).notes).toContain(note);
  });

  it('global_defs lvs_timeouts → director.timeouts; lvs_sync_daemon and other keys named; VRRP ignored by name', () => {
    const r = run('global_defs {\nrouter_id X\nlvs_timeouts tcp 7200 tcpfin 120 udp 300\nlvs_sync_daemon eth0 VI_1\n}\nvrrp_instance VI_1 {\n}\n' + vs(rs('')));
    expect(r.director).toEqual({ timeouts: { tcp: 7200, tcpfin: 120, udp: 300 } });
    expect(r.notes).toEqual([
      expect.stringMatching(/^4: lvs_sync_daemon eth0 VI_1: not carried \(vstun does not synchronise connections/),
      '1: global_defs: router_id: ignored (not LVS settings)',
      '6: vrrp_instance VI_1: ignored (VRRP is not part of vstun: announce the VIPs with BGP (BIRD) from each director)',
    ]);
  });

  it('conditional lines and parameters are named, not expanded', () => {
    expect(run('$X=1\n@main virtual_server 192.0.2.1 80 {\n}\n').notes).toEqual([
      '1: $X=1: conditional lines (@id) and parameters ($NAME=) are not expanded; this line is not read',
      '2: @main: conditional lines (@id) and parameters ($NAME=) are not expanded; this line is not read',
    ]);
  });
});
