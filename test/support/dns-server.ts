/**
 * A DNS server for tests, on UDP 127.0.0.1: answers A queries for the names it was given (AAAA with
 * no records, anything else NXDOMAIN), from a map the test changes as it goes, with TTL 0. Enough for
 * a resolver that asks a nameserver directly (c-ares: node:dns Resolver with setServers).
 */
import dgram from 'node:dgram';

export class TestDnsServer {
  /** name (lower case, no trailing dot) → IPv4 addresses. */
  readonly records = new Map<string, string[]>();
  readonly #socket: dgram.Socket;
  readonly port: number;

  private constructor(socket: dgram.Socket, port: number) {
    this.#socket = socket;
    this.port = port;
  }

  static async start(): Promise<TestDnsServer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const server = new TestDnsServer(socket, socket.address().port);
    socket.on('message', (msg, rinfo) => {
      const reply = server.#answer(msg);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  #answer(query: Buffer): Buffer | undefined {
    if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
    // The question: labels, then type and class.
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      const len = query[at]!;
      labels.push(query.toString('ascii', at + 1, at + 1 + len));
      at += 1 + len;
    }
    const questionEnd = at + 5;
    if (questionEnd > query.length) return undefined;
    const type = query.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    const known = this.records.get(name);
    const addresses = type === 1 ? known ?? [] : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0); // id
    header.writeUInt16BE(known === undefined ? 0x8183 : 0x8180, 2); // response, RD+RA, NOERROR / NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const answers = addresses.map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0: always ask again
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
      return rr;
    });
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
