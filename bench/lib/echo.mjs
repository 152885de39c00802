/**
 * The other end of bench/lib/calibrate.ts's ping-pong: connects to 127.0.0.1:PORT (its one
 * argument), sends back every byte it receives, and from the byte `m` on counts its own CPU time;
 * when the connection ends it prints that time (`process.cpuUsage()` as JSON) and closes.
 */
import { connect } from 'node:net';

const MARK = 0x6d; // 'm': the parent's clock starts as it sends it
const socket = connect(Number(process.argv[2]), '127.0.0.1');
socket.setNoDelay(true);
let since;
socket.on('data', (d) => {
  if (since === undefined && d.includes(MARK)) since = process.cpuUsage();
  socket.write(d);
});
socket.on('end', () => {
  const used = process.cpuUsage(since);
  process.stdout.write(JSON.stringify(used), () => socket.end());
});
socket.on('error', (err) => {
  process.stderr.write(`echo: ${err.message}\n`);
  process.exit(1);
});
