# A player that connects, joins, and then never reads: its receive buffer is
# tiny and it sleeps. Used to test that the node drops clients that do not
# read instead of buffering for them without bound.
import base64, os, socket, struct, sys, time

host, port, session, player, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect((host, port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(1024)
payload = ('{"t":"join","session":"%s","player":"%s","client":"slow"}' % (session, player)).encode()
mask = os.urandom(4)
masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
s.sendall(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)
print("joined", flush=True)
time.sleep(seconds)  # never read again
