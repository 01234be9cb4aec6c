# Numpy port (float64) of the remote-code DaViT + _encode_image, used as an oracle for non-tiny configs.
import json, math, os, re, struct, sys
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from port_common import TINY, gelu, layer_norm, linear, write_safetensors



def conv2d(x, w, b, stride, padding, groups=1):
    # x [B, C, H, W]; w [O, C/groups, k, k]
    B, C, H, W = x.shape
    O, Cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H + 2 * padding - k) // stride + 1
    Wo = (W + 2 * padding - k) // stride + 1
    out = np.zeros((B, O, Ho, Wo))
    og = O // groups
    for g in range(groups):
        xs = xp[:, g * Cg:(g + 1) * Cg]
        ws = w[g * og:(g + 1) * og]  # [og, Cg, k, k]
        for ky in range(k):
            for kx in range(k):
                patch = xs[:, :, ky:ky + stride * (Ho - 1) + 1:stride, kx:kx + stride * (Wo - 1) + 1:stride]
                out[:, g * og:(g + 1) * og] += np.einsum('bchw,oc->bohw', patch, ws[:, :, ky, kx])
    if b is not None:
        out += b[None, :, None, None]
    return out


class Ref:
    # native: follow transformers' own Florence2 (modeling_florence2.py in transformers) where it differs from the
    # remote code, reading cfg in the remote names (see native_main).
    def __init__(self, cfg, sd, native=False):
        self.c = cfg
        self.sd = sd
        self.native = native

    def p(self, k):
        return self.sd[k].astype(np.float64)

    def qkv_bias(self, pre):
        # None where qkv_bias=False left it out (native nn.Linear(..., bias=config.qkv_bias)).
        return self.p(pre + '.qkv.bias') if pre + '.qkv.bias' in self.sd else None

    def dw(self, pre, x, size):
        B, N, C = x.shape
        H, W = size
        y = conv2d(x.transpose(0, 2, 1).reshape(B, C, H, W), self.p(pre + '.fn.dw.weight'), self.p(pre + '.fn.dw.bias'),
                   1, 1, groups=C)
        return x + y.reshape(B, C, H * W).transpose(0, 2, 1)

    def mlp(self, pre, x):
        return linear(gelu(linear(x, self.p(pre + '.fc1.weight'), self.p(pre + '.fc1.bias'))),
                      self.p(pre + '.fc2.weight'), self.p(pre + '.fc2.bias'))

    def window_attn(self, pre, x, size, heads, ws):
        H, W = size
        B, L, C = x.shape
        x = x.reshape(B, H, W, C)
        pad_r = (ws - W % ws) % ws
        pad_b = (ws - H % ws) % ws
        x = np.pad(x, ((0, 0), (0, pad_b), (0, pad_r), (0, 0)))
        _, Hp, Wp, _ = x.shape
        x = x.reshape(B, Hp // ws, ws, Wp // ws, ws, C).transpose(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, C)
        B_, N, C = x.shape
        qkv = linear(x, self.p(pre + '.qkv.weight'), self.qkv_bias(pre)).reshape(B_, N, 3, heads, C // heads)
        qkv = qkv.transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * (float(C // heads) ** -0.5)
        attn = q @ k.transpose(0, 1, 3, 2)
        attn = np.exp(attn - attn.max(-1, keepdims=True))
        attn = attn / attn.sum(-1, keepdims=True)
        x = (attn @ v).transpose(0, 2, 1, 3).reshape(B_, N, C)
        x = linear(x, self.p(pre + '.proj.weight'), self.p(pre + '.proj.bias'))
        x = x.reshape(-1, ws, ws, C)
        x = x.reshape(B, Hp // ws, Wp // ws, ws, ws, -1).transpose(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, -1)
        x = x[:, :H, :W, :]
        return x.reshape(B, H * W, C)

    def channel_attn(self, pre, x, groups):
        B, N, C = x.shape
        qkv = linear(x, self.p(pre + '.qkv.weight'), self.qkv_bias(pre)).reshape(B, N, 3, groups, C // groups)
        qkv = qkv.transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * (float(N) ** -0.5)
        attention = q.transpose(0, 1, 3, 2) @ k
        attention = np.exp(attention - attention.max(-1, keepdims=True))
        attention = attention / attention.sum(-1, keepdims=True)
        x = (attention @ v.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
        x = x.transpose(0, 2, 1, 3).reshape(B, N, C)
        return linear(x, self.p(pre + '.proj.weight'), self.p(pre + '.proj.bias'))

    def block(self, pre, x, size, kind, n, ws):
        x = self.dw(pre + '.conv1', x, size)
        an = 'window_attn' if kind == 'spatial' else 'channel_attn'
        normed = layer_norm(x, self.p(pre + '.' + an + '.norm.weight'), self.p(pre + '.' + an + '.norm.bias'))
        if kind == 'spatial':
            x = x + self.window_attn(pre + '.' + an + '.fn', normed, size, n, ws)
        else:
            x = x + self.channel_attn(pre + '.' + an + '.fn', normed, n)
        x = self.dw(pre + '.conv2', x, size)
        normed = layer_norm(x, self.p(pre + '.ffn.norm.weight'), self.p(pre + '.ffn.norm.bias'))
        return x + self.mlp(pre + '.ffn.fn.net', normed)

    def davit(self, pixels, taps):
        v = self.c['vision_config']
        x = pixels.astype(np.float64)
        size = (x.shape[2], x.shape[3])
        for i in range(len(v['dim_embed'])):
            pre = 'vision_tower.convs.%d' % i
            H, W = size
            if x.ndim == 3:
                if v['patch_prenorm'][i]:
                    x = layer_norm(x, self.p(pre + '.norm.weight'), self.p(pre + '.norm.bias'))
                B, N, C = x.shape
                x = x.transpose(0, 2, 1).reshape(B, C, H, W)
            elif self.native and v['patch_prenorm'][i]:
                # Florence2VisionConvEmbed normalises the image's channels too; the remote ConvEmbed skips it.
                x = layer_norm(x.transpose(0, 2, 3, 1), self.p(pre + '.norm.weight'),
                               self.p(pre + '.norm.bias')).transpose(0, 3, 1, 2)
            x = conv2d(x, self.p(pre + '.proj.weight'), self.p(pre + '.proj.bias'), v['patch_stride'][i],
                       v['patch_padding'][i])
            B, C, H, W = x.shape
            x = x.reshape(B, C, H * W).transpose(0, 2, 1)
            if not v['patch_prenorm'][i]:
                x = layer_norm(x, self.p(pre + '.norm.weight'), self.p(pre + '.norm.bias'))
            size = (H, W)
            taps['davit_stage%d_after_conv' % i] = x.copy()
            for j in range(v['depths'][i]):
                bp = 'vision_tower.blocks.%d.%d' % (i, j)
                x = self.block(bp + '.spatial_block', x, size, 'spatial', v['num_heads'][i], v['window_size'])
                x = self.block(bp + '.channel_block', x, size, 'channel', v['num_groups'][i], v['window_size'])
            taps['davit_stage%d_out' % i] = x.copy()
        return x, size

    def encode_image(self, pixels, taps):
        v = self.c['vision_config']
        x, (h, w) = self.davit(pixels, taps)
        B = x.shape[0]
        T = 1
        num_tokens = x.shape[1]
        if not self.native:
            # _encode_image views any square number of tokens as a square, whatever the map's own height and width;
            # Florence2MultiModalProjector keeps them.
            h = w = int(num_tokens ** 0.5)
            assert h * w == num_tokens
        D = x.shape[-1]
        col = self.p('image_pos_embed.column_embeddings.weight')[:w]
        row = self.p('image_pos_embed.row_embeddings.weight')[:h]
        pos = np.concatenate([np.repeat(col[None], h, 0), np.repeat(row[:, None], w, 1)], -1)
        x = x.reshape(B, h, w, D) + pos[None]
        x = x.reshape(B, h * w, D)
        temporal = self.p('visual_temporal_embed.pos_idx_to_embed')[0]
        x = x + temporal
        feats = {'spatial_avg_pool': x.mean(1, keepdims=True), 'temporal_avg_pool': x, 'last_frame': x}
        x = np.concatenate([feats[s] for s in v['image_feature_source']], 1)
        x = x @ self.p('image_projection')
        x = layer_norm(x, self.p('image_proj_norm.weight'), self.p('image_proj_norm.bias'))
        taps['image_features'] = x
        return x


def cosine_table(max_len, D):
    den = np.exp(-math.log(10000) * np.arange(0, D, 2) / D)
    f = np.arange(max_len)[:, None] * den
    t = np.zeros((max_len, D))
    t[:, 0::2] = np.sin(f)
    t[:, 1::2] = np.cos(f)
    return t


def make_weights(cfg, rng):
    v = cfg['vision_config']
    sd = {}
    n = lambda *s: rng.normal(0, 0.2, s)
    lnw = lambda c: 1 + rng.normal(0, 0.2, (c,))
    dims = v['dim_embed']
    for i, d in enumerate(dims):
        cin = 3 if i == 0 else dims[i - 1]
        k = v['patch_size'][i]
        pre = 'vision_tower.convs.%d' % i
        sd[pre + '.proj.weight'] = n(d, cin, k, k)
        sd[pre + '.proj.bias'] = n(d)
        nd = cin if v['patch_prenorm'][i] else d
        sd[pre + '.norm.weight'] = lnw(nd)
        sd[pre + '.norm.bias'] = n(nd)
        for j in range(v['depths'][i]):
            for kind, an in (('spatial_block', 'window_attn'), ('channel_block', 'channel_attn')):
                bp = 'vision_tower.blocks.%d.%d.%s' % (i, j, kind)
                for cv in ('conv1', 'conv2'):
                    sd[bp + '.' + cv + '.fn.dw.weight'] = n(d, 1, 3, 3)
                    sd[bp + '.' + cv + '.fn.dw.bias'] = n(d)
                sd[bp + '.' + an + '.norm.weight'] = lnw(d)
                sd[bp + '.' + an + '.norm.bias'] = n(d)
                sd[bp + '.' + an + '.fn.qkv.weight'] = n(3 * d, d)
                if v.get('qkv_bias', True):
                    sd[bp + '.' + an + '.fn.qkv.bias'] = n(3 * d)
                sd[bp + '.' + an + '.fn.proj.weight'] = n(d, d)
                sd[bp + '.' + an + '.fn.proj.bias'] = n(d)
                sd[bp + '.ffn.norm.weight'] = lnw(d)
                sd[bp + '.ffn.norm.bias'] = n(d)
                hidden = int(d * v.get('mlp_ratio', 4.0))  # the remote code always 4
                sd[bp + '.ffn.fn.net.fc1.weight'] = n(hidden, d)
                sd[bp + '.ffn.fn.net.fc1.bias'] = n(hidden)
                sd[bp + '.ffn.fn.net.fc2.weight'] = n(d, hidden)
                sd[bp + '.ffn.fn.net.fc2.bias'] = n(d)
    D = dims[-1]
    P = v['projection_dim']
    mp = v['image_pos_embed']['max_pos_embeddings']
    sd['image_pos_embed.row_embeddings.weight'] = n(mp, D // 2)
    sd['image_pos_embed.column_embeddings.weight'] = n(mp, D - D // 2)
    sd['visual_temporal_embed.pos_idx_to_embed'] = cosine_table(v['visual_temporal_embedding']['max_temporal_embeddings'], D)
    sd['image_projection'] = n(D, P)
    sd['image_proj_norm.weight'] = lnw(P)
    sd['image_proj_norm.bias'] = n(P)
    return {k: np.asarray(a, dtype=np.float32) for k, a in sd.items()}


HERE = os.path.dirname(os.path.abspath(__file__))
TINY_NATIVE = os.path.join(os.path.dirname(TINY), 'tiny-native')

# Remote name -> native name: the inverse of NativeLayoutCheckpoint's renaming (golden/tiny-native/README.md) for the
# tensors make_weights writes.
NATIVE_NAMES = [
    (r'vision_tower\.convs\.(\d+)\.proj\.', r'model.vision_tower.convs.\1.conv.'),
    (r'vision_tower\.convs\.(\d+)\.norm\.', r'model.vision_tower.convs.\1.norm.'),
    (r'vision_tower\.blocks\.(\d+)\.(\d+)\.(\w+)\.(conv\d)\.fn\.dw\.', r'model.vision_tower.blocks.\1.\2.\3.\4.'),
    (r'vision_tower\.blocks\.(\d+)\.(\d+)\.(\w+)\.(window_attn|channel_attn)\.norm\.',
     r'model.vision_tower.blocks.\1.\2.\3.norm1.'),
    (r'vision_tower\.blocks\.(\d+)\.(\d+)\.(\w+)\.(window_attn|channel_attn)\.fn\.',
     r'model.vision_tower.blocks.\1.\2.\3.\4.'),
    (r'vision_tower\.blocks\.(\d+)\.(\d+)\.(\w+)\.ffn\.norm\.', r'model.vision_tower.blocks.\1.\2.\3.norm2.'),
    (r'vision_tower\.blocks\.(\d+)\.(\d+)\.(\w+)\.ffn\.fn\.net\.', r'model.vision_tower.blocks.\1.\2.\3.ffn.'),
    (r'image_projection$', 'model.multi_modal_projector.image_projection.weight'),
    (r'image_proj_norm\.', 'model.multi_modal_projector.image_proj_norm.'),
    (r'image_pos_embed\.', 'model.multi_modal_projector.image_position_embed.'),
    (r'visual_temporal_embed\.', 'model.multi_modal_projector.visual_temporal_embed.'),
]


def native_name(remote):
    for pattern, replacement in NATIVE_NAMES:
        if re.match(pattern, remote):
            return re.sub(pattern, replacement, remote, count=1)
    raise KeyError(remote)


def write_cases(out_dir, ref, images, rng):
    # One case file per image: random pixels, the taps, and the image features where the case projects.
    for name, (b, h, w, project) in images.items():
        pixels = rng.normal(0, 1, (b, 3, h, w)).astype(np.float32)
        taps = {}
        if project:
            ref.encode_image(pixels, taps)
        else:
            ref.davit(pixels, taps)
        out = {'pixel_values': pixels}
        out.update({k: np.asarray(a, np.float32) for k, a in taps.items()})
        write_safetensors(os.path.join(out_dir, 'case_' + name + '.safetensors'), out)
        print(out_dir, name, {k: a.shape for k, a in out.items()})


def main(out_dir, vision, images, seed=1234):
    os.makedirs(out_dir, exist_ok=True)
    base = json.load(open(os.path.join(TINY, 'model', 'config.json')))
    cfg = dict(base)
    v = dict(base['vision_config'])
    v.update(vision)
    cfg['vision_config'] = v
    cfg['projection_dim'] = v['projection_dim']
    t = dict(base['text_config'])
    t['d_model'] = v['projection_dim']
    cfg['text_config'] = t
    json.dump(cfg, open(os.path.join(out_dir, 'config.json'), 'w'), indent=1)
    rng = np.random.default_rng(seed)
    sd = make_weights(cfg, rng)
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), sd)
    ref = Ref(cfg, sd)
    write_cases(out_dir, ref, images, rng)


def native_main(out_dir, vision, images, seed=1234):
    # A native-format folder: config.json as transformers' Florence2Config writes it (from the tiny-native one, with
    # only the keys the native model reads), generation_config.json, and the vision weights under native names.
    os.makedirs(out_dir, exist_ok=True)
    base = json.load(open(os.path.join(TINY_NATIVE, 'model', 'config.json')))
    v = {k: a for k, a in base['vision_config'].items() if k not in (
        'dim_embed', 'max_pos_embeddings', 'image_pos_embed', 'visual_temporal_embedding', 'image_feature_source')}
    v.update(vision)
    cfg = dict(base)
    cfg['vision_config'] = v
    cfg['text_config'] = dict(base['text_config'], d_model=v['projection_dim'])
    json.dump(cfg, open(os.path.join(out_dir, 'config.json'), 'w'), indent=1)
    with open(os.path.join(TINY_NATIVE, 'model', 'generation_config.json')) as f:
        generation = f.read()
    with open(os.path.join(out_dir, 'generation_config.json'), 'w') as f:
        f.write(generation)
    # The port reads remote names: the native keys it needs, renamed, and the projector's fixed feature sources.
    remote = dict(v, dim_embed=v['embed_dim'],
                  image_pos_embed={'max_pos_embeddings': v['max_position_embeddings']},
                  visual_temporal_embedding={'max_temporal_embeddings': v['max_temporal_embeddings']},
                  image_feature_source=['spatial_avg_pool', 'temporal_avg_pool'])
    rcfg = {'vision_config': remote}
    rng = np.random.default_rng(seed)
    sd = make_weights(rcfg, rng)
    stored = {native_name(k): (a.T.copy() if k == 'image_projection' else a) for k, a in sd.items()}
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), stored)
    ref = Ref(rcfg, sd, native=True)
    write_cases(out_dir, ref, images, rng)


if __name__ == '__main__':
    # Config A: non-tiny everything; stage 0 prenorm (never applied), post-norm later stages, depth 0, odd window,
    # heads != groups, odd stage width, kernel 2 stride 2 padding 0, stride 1 last stage, 3 feature sources.
    main(os.path.join(HERE, 'A'), {
        'dim_embed': [15, 24, 36, 40], 'num_heads': [3, 2, 6, 5], 'num_groups': [5, 3, 2, 8],
        'depths': [0, 2, 1, 1], 'window_size': 5, 'patch_size': [5, 3, 2, 3], 'patch_stride': [3, 2, 2, 1],
        'patch_padding': [1, 1, 0, 1], 'patch_prenorm': [True, False, True, False], 'projection_dim': 48,
        'image_pos_embed': {'type': 'learned_abs_2d', 'max_pos_embeddings': 7},
        'visual_temporal_embedding': {'type': 'COSINE', 'max_temporal_embeddings': 9},
        'image_feature_source': ['last_frame', 'spatial_avg_pool', 'temporal_avg_pool'],
    }, {'sq70': (1, 70, 70, True), 'batch2': (2, 70, 70, True), 'rect70x40': (1, 70, 40, False),
        'small34': (1, 34, 34, True)})
    # Config B: 2 stages, window larger than every map, the base model's patch settings.
    main(os.path.join(HERE, 'B'), {
        'dim_embed': [8, 20], 'num_heads': [2, 4], 'num_groups': [1, 10], 'depths': [1, 2], 'window_size': 9,
        'patch_size': [7, 3], 'patch_stride': [4, 2], 'patch_padding': [3, 1], 'patch_prenorm': [False, True],
        'projection_dim': 24,
        'image_pos_embed': {'type': 'learned_abs_2d', 'max_pos_embeddings': 50},
        'visual_temporal_embedding': {'type': 'COSINE', 'max_temporal_embeddings': 100},
        'image_feature_source': ['spatial_avg_pool', 'temporal_avg_pool'],
    }, {'sq64': (1, 64, 64, True), 'rect64x100': (1, 64, 100, False), 'rect64x256': (1, 64, 256, True)})
    # Config N, native: three stages, stage 0 pre-normalised (the native code applies it to the image), MLPs 2.5
    # times as wide as their stage (int(12 * 2.5) = 30, 60, 80), q/k/v without bias.
    native_main(os.path.join(HERE, 'N'), {
        'embed_dim': [12, 24, 32], 'num_heads': [2, 3, 4], 'num_groups': [3, 2, 8], 'depths': [1, 1, 1],
        'window_size': 3, 'patch_size': [5, 3, 3], 'patch_stride': [4, 2, 2], 'patch_padding': [2, 1, 1],
        'patch_prenorm': [True, True, False], 'projection_dim': 24, 'max_position_embeddings': 9,
        'max_temporal_embeddings': 5, 'mlp_ratio': 2.5, 'qkv_bias': False,
    }, {'sq48': (1, 48, 48, True), 'batch2': (2, 40, 40, True), 'rect48x96': (1, 48, 96, True),
        'rect32x128': (1, 32, 128, True)})
