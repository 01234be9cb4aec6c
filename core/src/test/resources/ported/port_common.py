# Shared by the ports in vision/ and text/: the reference's elementwise pieces in float64, and safetensors I/O.
import json, math, os, struct
import numpy as np

# The tiny golden model, whose config the ports' configs start from and whose goldens check the ports.
TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'golden', 'tiny')

erf = np.vectorize(math.erf)


def gelu(x):
    # ACT2FN['gelu']: the exact erf form.
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def linear(x, w, b):
    return x @ w.T + (b if b is not None else 0)


def write_safetensors(path, tensors):
    header = {}
    offset = 0
    blobs = []
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        dt = {np.float32: 'F32', np.int64: 'I64'}[a.dtype.type]
        b = a.tobytes()
        header[k] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(p):
    with open(p, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in h.items():
        if k == '__metadata__':
            continue
        dt = {'F32': np.float32, 'I64': np.int64, 'U8': np.uint8}[v['dtype']]
        a, b = v['data_offsets']
        out[k] = np.frombuffer(data[a:b], dtype=dt).reshape(v['shape'])
    return out
