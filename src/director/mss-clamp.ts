// TCP MSS clamping of client SYNs (per service, on by default): the MSS option is lowered
// to what fits the tunnel, with an RFC 1624 incremental checksum update, so the server
// never sends segments bigger than the tunnel carries. In VS/TUN the server's replies do
// not come back through the director, so the SYN is the only place to do it; the client's
// own segment size follows the server's SYN-ACK and, when that is too big, the director's
// frag-needed answers (see icmp-too-big.ts).
import { WIRE_OK } from '../wire/errors.js';
import { TcpView } from '../wire/tcp.js';

export const IPV4_TCP_HEADERS = 40;
export const IPV6_TCP_HEADERS = 60;
/** No MSS below this, whatever the tunnel (RFC 879's default 536). */
export const MIN_CLAMPED_MSS = 536;

export class MssClamper {
  private readonly tcp = new TcpView();
  /** SYNs whose MSS was lowered. */
  clamped = 0;

  /**
   * Lowers the MSS option of the TCP segment at data[l4 .. l4+len) to `maxMss` (bytes,
   * at least MIN_CLAMPED_MSS) when it is larger. A segment with bad options or no MSS
   * option is left alone. Returns true when the segment changed.
   */
  clamp(data: Uint8Array, l4: number, len: number, maxMss: number): boolean {
    if (this.tcp.bind(data, l4, len) !== WIRE_OK) return false;
    if (this.tcp.clampMss(maxMss < MIN_CLAMPED_MSS ? MIN_CLAMPED_MSS : maxMss) < 0) return false;
    this.clamped++;
    return true;
  }
}
