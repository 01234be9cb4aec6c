# Validates the port: the tiny golden model's image features, from the genuine implementation, within float32 noise.
import json, os, struct, numpy as np, glob, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davit_port import Ref, TINY
def read_st(p):
    with open(p,'rb') as f:
        n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); data=f.read()
    out={}
    for k,v in h.items():
        if k=='__metadata__': continue
        dt={'F32':np.float32,'I64':np.int64,'U8':np.uint8}[v['dtype']]
        a,b=v['data_offsets']; out[k]=np.frombuffer(data[a:b],dtype=dt).reshape(v['shape'])
    return out
T=TINY
cfg=json.load(open(T+'/model/config.json')); sd=read_st(T+'/model/model.safetensors')
ref=Ref(cfg,sd)
for case in sorted(glob.glob(T+'/cases/image*.safetensors')):
    g=read_st(case); taps={}
    ref.encode_image(g['pixel_values'],taps)
    worst=max(float(np.abs(taps[k]-g[k]).max()) for k in taps)
    print(case.split('/')[-1], 'max abs diff vs golden', worst)
