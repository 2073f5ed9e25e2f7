// The eBPF program that picks a multi-queue TAP's queue for each frame the kernel sends into
// it (TUNSETSTEERINGEBPF; the kernel takes the return value % queues). The kernel's own
// choice is a flow hash, which puts a VS/NAT reply (RIP:rport → client) on another queue
// than its request (client → VIP:vport), and one client's connections of a persistent
// service on several queues, each with its own templates. This program keys those packets
// by the client's address instead, so that a client's traffic stays on one queue:
//
//   to a client-keyed VIP (persistent, or with VS/NAT servers)  → the source (the client); for an
//                                                                 ICMP error, the quoted destination
//   from a VS/NAT real server                                   → the destination (the client)
//   any other IPv4/IPv6                                         → addresses, and ports when the
//                                                                 packet is TCP/UDP and no fragment
//   anything else (ARP)                                         → queue 0 (any worker answers ARP)
//
// Loads are legacy LD_ABS/LD_IND (socket-filter programs may use them), relative to the
// Ethernet header: the steering program runs on the TAP's transmit path. A load past the
// end of a short frame ends the program with 0, i.e. queue 0. The addresses are baked in as
// immediates, at most MAX_STEERED_ADDRESSES of them, so the program stays small and bounded.

/** How many VIP and NAT-server addresses (both families together) one program holds at most. */
export const MAX_STEERED_ADDRESSES = 256;

/** What the program keys by the client's address. */
export interface SteeringSets {
  /** VIPs whose traffic is keyed by its source: uint32 each. */
  clientVips4: number[];
  /** The same for IPv6: 16 bytes each. */
  clientVips6: Uint8Array[];
  /** VS/NAT servers whose traffic is keyed by its destination: uint32 each. */
  natServers4: number[];
  natServers6: Uint8Array[];
  /**
   * Prefix length (0..32) of the IPv4 client key: a persistence netmask (-M) groups clients,
   * and a group must land on one queue. IPv6 services are /128 only.
   */
  clientPrefix4: number;
}

// ---- a tiny eBPF assembler (include/uapi/linux/bpf.h encodings) ----

const LD = 0x00;
const JMP = 0x05;
const JMP32 = 0x06;
const ALU = 0x04;
const ALU64 = 0x07;
const SIZE_W = 0x00;
const SIZE_H = 0x08;
const SIZE_B = 0x10;
const MODE_ABS = 0x20;
const MODE_IND = 0x40;
const SRC_K = 0x00;
const SRC_X = 0x08;
const OP_MUL = 0x20;
const OP_AND = 0x50;
const OP_LSH = 0x60;
const OP_RSH = 0x70;
const OP_MOD = 0x90;
const OP_XOR = 0xa0;
const OP_MOV = 0xb0;
const J_JA = 0x00;
const J_JEQ = 0x10;
const J_JNE = 0x50;
const J_JSET = 0x40;
const J_JGT = 0x20;
const J_EXIT = 0x90;

const ETH_TYPE = 12;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const L3 = 14;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
/** ICMP destination unreachable, time exceeded, parameter problem: the errors that quote a packet. */
const ICMP_ERRORS = [3, 11, 12];
/** A Fibonacci-hashing multiplier (2^32 / golden ratio), as a signed 32-bit immediate. */
const MIX = 0x9e3779b1 | 0;

type Size = typeof SIZE_W | typeof SIZE_H | typeof SIZE_B;

/** Instructions with forward jumps to named labels, resolved by `bytes()`. */
class Assembler {
  private readonly insns: Array<{ code: number; dst: number; src: number; off: number; imm: number; label?: string }> = [];
  private readonly labels = new Map<string, number>();

  private emit(code: number, dst: number, src: number, off: number, imm: number, label?: string): void {
    this.insns.push({ code, dst, src, off, imm, label });
  }

  label(name: string): void {
    this.labels.set(name, this.insns.length);
  }

  /** r0 = the big-endian 1/2/4-byte value at `offset` of the frame. */
  ldAbs(size: Size, offset: number): void {
    this.emit(LD | MODE_ABS | size, 0, 0, 0, offset);
  }

  /** r0 = the big-endian value at r`reg` + `offset` of the frame. */
  ldInd(size: Size, reg: number, offset: number): void {
    this.emit(LD | MODE_IND | size, 0, reg, 0, offset);
  }

  movReg(dst: number, src: number): void {
    this.emit(ALU64 | OP_MOV | SRC_X, dst, src, 0, 0);
  }

  movImm(dst: number, imm: number): void {
    this.emit(ALU64 | OP_MOV | SRC_K, dst, 0, 0, imm);
  }

  xorReg(dst: number, src: number): void {
    this.emit(ALU64 | OP_XOR | SRC_X, dst, src, 0, 0);
  }

  /** 32-bit ALU with an immediate (the upper half of dst becomes 0). */
  alu32Imm(op: number, dst: number, imm: number): void {
    this.emit(ALU | op | SRC_K, dst, 0, 0, imm);
  }

  alu32Reg(op: number, dst: number, src: number): void {
    this.emit(ALU | op | SRC_X, dst, src, 0, 0);
  }

  /** Jump to `label` when the low 32 bits of r`reg` compare to `imm` (JMP32: no sign extension). */
  jmp32Imm(op: number, reg: number, imm: number, label: string): void {
    this.emit(JMP32 | op | SRC_K, reg, 0, 0, imm, label);
  }

  ja(label: string): void {
    this.emit(JMP | J_JA, 0, 0, 0, 0, label);
  }

  exit(): void {
    this.emit(JMP | J_EXIT, 0, 0, 0, 0);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.insns.length * 8);
    const view = new DataView(out.buffer);
    this.insns.forEach((insn, i) => {
      let off = insn.off;
      if (insn.label !== undefined) {
        const target = this.labels.get(insn.label);
        if (target === undefined) throw new Error(`steering program: no label ${insn.label}`);
        off = target - i - 1;
      }
      out[i * 8] = insn.code;
      out[i * 8 + 1] = (insn.src << 4) | insn.dst;
      view.setInt16(i * 8 + 2, off, true);
      view.setInt32(i * 8 + 4, insn.imm, true);
    });
    return out;
  }
}

/** The four big-endian words of an IPv6 address (16 bytes). */
function words6(a: Uint8Array): number[] {
  const v = new DataView(a.buffer, a.byteOffset, 16);
  return [0, 4, 8, 12].map((o) => v.getInt32(o));
}

/** IPv4 netmask of a prefix length, as a signed 32-bit immediate. */
function mask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) | 0;
}

/** How many addresses `sets` bakes in. */
export function steeredAddressCount(sets: SteeringSets): number {
  return sets.clientVips4.length + sets.clientVips6.length + sets.natServers4.length + sets.natServers6.length;
}

/**
 * The steering program for `sets` on a TAP of `queues` queues (1..65535): eBPF instructions,
 * 8 bytes each, returning a queue index below `queues`. Throws RangeError when the sets hold
 * more than MAX_STEERED_ADDRESSES addresses or `queues` is out of range.
 */
export function buildSteeringProgram(sets: SteeringSets, queues: number): Uint8Array {
  if (!Number.isInteger(queues) || queues < 1 || queues > 0xffff) throw new RangeError(`queues must be 1..65535, got ${queues}`);
  const n = steeredAddressCount(sets);
  if (n > MAX_STEERED_ADDRESSES) throw new RangeError(`${n} addresses to steer, at most ${MAX_STEERED_ADDRESSES}`);
  const a = new Assembler();
  // r6: the context (LD_ABS needs it there); r7, r8: addresses; r9: the key. LD_ABS/LD_IND clobber r0..r5.
  a.movReg(6, 1);
  a.ldAbs(SIZE_H, ETH_TYPE);
  a.jmp32Imm(J_JEQ, 0, ETHERTYPE_IPV4, 'v4');
  a.jmp32Imm(J_JEQ, 0, ETHERTYPE_IPV6, 'v6');
  a.movImm(0, 0);
  a.exit();

  // IPv4: r7 = destination, r8 = source.
  a.label('v4');
  a.ldAbs(SIZE_W, L3 + 16);
  a.movReg(7, 0);
  a.ldAbs(SIZE_W, L3 + 12);
  a.movReg(8, 0);
  for (const vip of sets.clientVips4) a.jmp32Imm(J_JEQ, 7, vip | 0, 'v4-by-source');
  for (const rip of sets.natServers4) a.jmp32Imm(J_JEQ, 8, rip | 0, 'v4-by-destination');
  a.movReg(9, 8);
  a.xorReg(9, 7);
  // Fragments (MF or an offset): addresses only, so that every fragment of a datagram lands together.
  a.ldAbs(SIZE_H, L3 + 6);
  a.jmp32Imm(J_JSET, 0, 0x3fff, 'mix');
  a.ldAbs(SIZE_B, L3 + 9);
  a.jmp32Imm(J_JEQ, 0, IPPROTO_TCP, 'v4-ports');
  a.jmp32Imm(J_JEQ, 0, IPPROTO_UDP, 'v4-ports');
  a.ja('mix');
  a.label('v4-ports');
  a.ldAbs(SIZE_B, L3);
  a.alu32Imm(OP_AND, 0, 0x0f);
  a.alu32Imm(OP_LSH, 0, 2);
  a.movReg(7, 0);
  a.ldInd(SIZE_W, 7, L3);
  a.xorReg(9, 0);
  a.ja('mix');
  // The verifier refuses unreachable code: a block only when something jumps to it.
  if (sets.clientVips4.length > 0) {
    // An ICMP error to the VIP (from a router on the path) quotes the VIP → client packet: its client is the quoted destination.
    a.label('v4-by-source');
    a.ldAbs(SIZE_B, L3 + 9);
    a.jmp32Imm(J_JNE, 0, IPPROTO_ICMP, 'v4-source');
    a.ldAbs(SIZE_B, L3);
    a.alu32Imm(OP_AND, 0, 0x0f);
    a.alu32Imm(OP_LSH, 0, 2);
    a.movReg(7, 0);
    a.ldInd(SIZE_B, 7, L3);
    for (const type of ICMP_ERRORS) a.jmp32Imm(J_JEQ, 0, type, 'v4-quoted');
    a.ja('v4-source');
    a.label('v4-quoted');
    a.ldInd(SIZE_W, 7, L3 + 8 + 16);
    a.movReg(9, 0);
    a.alu32Imm(OP_AND, 9, mask4(sets.clientPrefix4));
    a.ja('mix');
    a.label('v4-source');
    a.movReg(9, 8);
    a.alu32Imm(OP_AND, 9, mask4(sets.clientPrefix4));
    a.ja('mix');
  }
  if (sets.natServers4.length > 0) {
    a.label('v4-by-destination');
    a.movReg(9, 7);
    a.alu32Imm(OP_AND, 9, mask4(sets.clientPrefix4));
    a.ja('mix');
  }

  // IPv6: source words at 8..24 of the header, destination words at 24..40.
  a.label('v6');
  sets.clientVips6.forEach((vip, i) => compare6(a, vip, L3 + 24, `v6-vip-${i}`, 'v6-by-source'));
  sets.natServers6.forEach((rip, i) => compare6(a, rip, L3 + 8, `v6-rip-${i}`, 'v6-by-destination'));
  xorWords6(a, L3 + 8);
  a.movReg(8, 9);
  xorWords6(a, L3 + 24);
  a.xorReg(9, 8);
  // Ports only right after the fixed header: an extension header (a fragment's too) leaves addresses only.
  a.ldAbs(SIZE_B, L3 + 6);
  a.jmp32Imm(J_JEQ, 0, IPPROTO_TCP, 'v6-ports');
  a.jmp32Imm(J_JEQ, 0, IPPROTO_UDP, 'v6-ports');
  a.ja('mix');
  a.label('v6-ports');
  a.ldAbs(SIZE_W, L3 + 40);
  a.xorReg(9, 0);
  a.ja('mix');
  if (sets.clientVips6.length > 0) {
    // An ICMPv6 error (types 1..4) right after the fixed header: the client is the quoted destination.
    a.label('v6-by-source');
    a.ldAbs(SIZE_B, L3 + 6);
    a.jmp32Imm(J_JNE, 0, IPPROTO_ICMPV6, 'v6-source');
    a.ldAbs(SIZE_B, L3 + 40);
    a.jmp32Imm(J_JEQ, 0, 0, 'v6-source');
    a.jmp32Imm(J_JGT, 0, 4, 'v6-source');
    xorWords6(a, L3 + 40 + 8 + 24);
    a.ja('mix');
    a.label('v6-source');
    xorWords6(a, L3 + 8);
    a.ja('mix');
  }
  if (sets.natServers6.length > 0) {
    a.label('v6-by-destination');
    xorWords6(a, L3 + 24);
    a.ja('mix');
  }

  // key → queue: fold, multiply, take the high half, modulo the queue count.
  a.label('mix');
  a.movReg(0, 9);
  a.alu32Imm(OP_RSH, 0, 16);
  a.alu32Reg(OP_XOR, 9, 0);
  a.alu32Imm(OP_MUL, 9, MIX);
  a.alu32Imm(OP_RSH, 9, 16);
  a.alu32Imm(OP_MOD, 9, queues);
  a.movReg(0, 9);
  a.exit();
  return a.bytes();
}

/** Jumps to `match` when the 16 bytes at `offset` are `addr`; falls through to the next compare otherwise. */
function compare6(a: Assembler, addr: Uint8Array, offset: number, next: string, match: string): void {
  const w = words6(addr);
  for (let i = 0; i < 4; i++) {
    a.ldAbs(SIZE_W, offset + 4 * i);
    if (i < 3) a.jmp32Imm(J_JNE, 0, w[i]!, next);
    else a.jmp32Imm(J_JEQ, 0, w[i]!, match);
  }
  a.label(next);
}

/** r9 = the XOR of the four words at `offset` (an IPv6 address). */
function xorWords6(a: Assembler, offset: number): void {
  a.ldAbs(SIZE_W, offset);
  a.movReg(9, 0);
  for (let i = 1; i < 4; i++) {
    a.ldAbs(SIZE_W, offset + 4 * i);
    a.xorReg(9, 0);
  }
}

/**
 * The queue the program built from `sets` for `queues` queues gives a client's TCP or UDP
 * packet (no fragment, no IPv6 extension header) to a VIP: the generated code's key and mix,
 * for the control plane (`vstunadm explain` asks the queue a new flow would land on).
 * Addresses are uint32 (IPv4) or 16 bytes (IPv6), client and VIP of one family; ports 0..65535.
 */
export function steeredQueue(sets: SteeringSets, queues: number, client: number | Uint8Array, clientPort: number, vip: number | Uint8Array, vipPort: number): number {
  const ports = ((clientPort << 16) | vipPort) | 0;
  let key: number;
  if (typeof client === 'number' && typeof vip === 'number') {
    const byClient = sets.clientVips4.some((v) => (v | 0) === (vip | 0));
    key = byClient ? client & mask4(sets.clientPrefix4) : client ^ vip ^ ports;
  } else if (typeof client !== 'number' && typeof vip !== 'number') {
    const byClient = sets.clientVips6.some((v) => v.every((b, i) => b === vip[i]));
    const fold = (a: Uint8Array) => words6(a).reduce((x, w) => x ^ w, 0);
    key = byClient ? fold(client) : fold(client) ^ fold(vip) ^ ports;
  } else throw new TypeError('steeredQueue: the client and the VIP must be of one family');
  key ^= key >>> 16;
  return (Math.imul(key, MIX) >>> 16) % queues;
}
