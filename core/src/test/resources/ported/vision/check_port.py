# Validates the port: the tiny golden model's image features, from the genuine implementation, within float32 noise.
import json, os, struct, numpy as np, glob, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from davit_port import Ref
from port_common import TINY, read_safetensors as read_st
T=TINY
cfg=json.load(open(T+'/model/config.json')); sd=read_st(T+'/model/model.safetensors')
ref=Ref(cfg,sd)
for case in sorted(glob.glob(T+'/cases/image*.safetensors')):
    g=read_st(case); taps={}
    ref.encode_image(g['pixel_values'],taps)
    worst=max(float(np.abs(taps[k]-g[k]).max()) for k in taps)
    print(case.split('/')[-1], 'max abs diff vs golden', worst)
