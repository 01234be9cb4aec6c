# Numpy port (float64) of the remote-code BART language model as Florence2ForConditionalGeneration.generate runs it
# (Florence2LanguageForConditionalGeneration, Florence2Encoder/Decoder and their layers, Florence2Attention), used as
# an oracle for non-tiny text configs.
import json, math, os, struct, sys
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from port_common import TINY, gelu, layer_norm, linear, write_safetensors

LM = 'language_model.'


class Ref:
    def __init__(self, cfg, sd):
        self.t = cfg['text_config']
        self.sd = sd

    def p(self, k):
        return self.sd[LM + k].astype(np.float64)

    def attention(self, pre, hidden, key_value, heads, causal):
        # Florence2Attention.forward: q_proj(x) * head_dim^-0.5, per-head softmax(q k^T) v, out_proj.
        B, tgt_len, D = hidden.shape
        src_len = key_value.shape[1]
        head_dim = D // heads
        scaling = head_dim ** -0.5
        q = linear(hidden, self.p(pre + '.q_proj.weight'), self.p(pre + '.q_proj.bias')) * scaling
        k = linear(key_value, self.p(pre + '.k_proj.weight'), self.p(pre + '.k_proj.bias'))
        v = linear(key_value, self.p(pre + '.v_proj.weight'), self.p(pre + '.v_proj.bias'))
        shape = lambda x, n: x.reshape(B, n, heads, head_dim).transpose(0, 2, 1, 3)
        q, k, v = shape(q, tgt_len), shape(k, src_len), shape(v, src_len)
        attn = q @ k.transpose(0, 1, 3, 2)
        if causal:
            # _prepare_4d_causal_attention_mask: position i sees keys 0..i.
            attn = attn + np.triu(np.full((tgt_len, src_len), -np.inf), 1)
        attn = np.exp(attn - attn.max(-1, keepdims=True))
        attn = attn / attn.sum(-1, keepdims=True)
        out = (attn @ v).transpose(0, 2, 1, 3).reshape(B, tgt_len, D)
        return linear(out, self.p(pre + '.out_proj.weight'), self.p(pre + '.out_proj.bias'))

    def ffn(self, pre, x):
        h = gelu(linear(x, self.p(pre + '.fc1.weight'), self.p(pre + '.fc1.bias')))
        return linear(h, self.p(pre + '.fc2.weight'), self.p(pre + '.fc2.bias'))

    def ln(self, pre, x):
        return layer_norm(x, self.p(pre + '.weight'), self.p(pre + '.bias'))

    def positions(self, pre, length):
        # Florence2LearnedPositionalEmbedding: positions 0..length-1 read rows offset 2.
        return self.p(pre + '.embed_positions.weight')[2:2 + length]

    def inputs_embeds(self, image_features, input_ids):
        # Florence2ForConditionalGeneration.generate: get_input_embeddings() is the plain `shared` (no embed_scale),
        # then _merge_input_ids_with_image_features concatenates [image features, prompt embeddings].
        prompt = self.p('model.shared.weight')[input_ids]
        return np.concatenate([image_features.astype(np.float64), prompt], 1)

    def encoder(self, inputs_embeds):
        # Florence2Encoder.forward with inputs_embeds (not scaled: embed_scale applies to input_ids only); the
        # attention mask generate passes is all ones.
        x = inputs_embeds.astype(np.float64)
        x = x + self.positions('model.encoder', x.shape[1])[None]
        x = self.ln('model.encoder.layernorm_embedding', x)
        for i in range(self.t['encoder_layers']):
            pre = 'model.encoder.layers.%d' % i
            # Florence2EncoderLayer: post-LayerNorm residual blocks.
            x = self.ln(pre + '.self_attn_layer_norm',
                        x + self.attention(pre + '.self_attn', x, x, self.t['encoder_attention_heads'], False))
            x = self.ln(pre + '.final_layer_norm', x + self.ffn(pre, x))
        return x

    def decoder_logits(self, decoder_input_ids, encoder_hidden_states):
        # Florence2Decoder.forward from position 0, then lm_head(x) + final_logits_bias. embed_tokens is `shared`
        # times sqrt(d_model) when scale_embedding is set.
        scale = math.sqrt(self.t['d_model']) if self.t.get('scale_embedding', False) else 1.0
        x = self.p('model.shared.weight')[decoder_input_ids] * scale
        x = x + self.positions('model.decoder', x.shape[1])[None]
        x = self.ln('model.decoder.layernorm_embedding', x)
        enc = encoder_hidden_states.astype(np.float64)
        heads = self.t['decoder_attention_heads']
        for i in range(self.t['decoder_layers']):
            pre = 'model.decoder.layers.%d' % i
            x = self.ln(pre + '.self_attn_layer_norm', x + self.attention(pre + '.self_attn', x, x, heads, True))
            x = self.ln(pre + '.encoder_attn_layer_norm',
                        x + self.attention(pre + '.encoder_attn', x, enc, heads, False))
            x = self.ln(pre + '.final_layer_norm', x + self.ffn(pre, x))
        # lm_head: the stored weight, or `shared` when not stored (tied).
        head = self.p('lm_head.weight') if LM + 'lm_head.weight' in self.sd else self.p('model.shared.weight')
        logits = x @ head.T
        if LM + 'final_logits_bias' in self.sd:
            logits = logits + self.p('final_logits_bias')
        return logits


def make_weights(cfg, rng, stored_head, logits_bias):
    t = cfg['text_config']
    D = t['d_model']
    V = t['vocab_size']
    P = t['max_position_embeddings'] + 2
    sd = {}
    n = lambda *s: rng.normal(0, 0.2, s)
    wide = lambda *s: rng.normal(0, 0.5, s)
    lnw = lambda: 1 + rng.normal(0, 0.2, (D,))

    def attention(pre):
        for proj in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            sd[pre + '.' + proj + '.weight'] = n(D, D)
            sd[pre + '.' + proj + '.bias'] = n(D)

    def norm(pre):
        sd[pre + '.weight'] = lnw()
        sd[pre + '.bias'] = n(D)

    def ffn(pre, F):
        sd[pre + '.fc1.weight'] = n(F, D)
        sd[pre + '.fc1.bias'] = n(F)
        sd[pre + '.fc2.weight'] = n(D, F)
        sd[pre + '.fc2.bias'] = n(D)

    sd['model.shared.weight'] = wide(V, D)
    for part in ('encoder', 'decoder'):
        sd['model.%s.embed_positions.weight' % part] = wide(P, D)
        norm('model.%s.layernorm_embedding' % part)
    for i in range(t['encoder_layers']):
        pre = 'model.encoder.layers.%d' % i
        attention(pre + '.self_attn')
        norm(pre + '.self_attn_layer_norm')
        ffn(pre, t['encoder_ffn_dim'])
        norm(pre + '.final_layer_norm')
    for i in range(t['decoder_layers']):
        pre = 'model.decoder.layers.%d' % i
        attention(pre + '.self_attn')
        norm(pre + '.self_attn_layer_norm')
        attention(pre + '.encoder_attn')
        norm(pre + '.encoder_attn_layer_norm')
        ffn(pre, t['decoder_ffn_dim'])
        norm(pre + '.final_layer_norm')
    if stored_head:
        sd['lm_head.weight'] = wide(V, D)
    if logits_bias:
        sd['final_logits_bias'] = wide(1, V)
    return {LM + k: np.asarray(a, dtype=np.float32) for k, a in sd.items()}


HERE = os.path.dirname(os.path.abspath(__file__))


def main(out_dir, text, stored_head, logits_bias, cases, seed=1234):
    os.makedirs(out_dir, exist_ok=True)
    base = json.load(open(os.path.join(TINY, 'model', 'config.json')))
    cfg = dict(base)
    t = dict(base['text_config'])
    t.update(text)
    cfg['text_config'] = t
    cfg['vocab_size'] = t['vocab_size']
    cfg['projection_dim'] = t['d_model']
    v = dict(base['vision_config'])
    v['projection_dim'] = t['d_model']
    cfg['vision_config'] = v
    json.dump(cfg, open(os.path.join(out_dir, 'config.json'), 'w'), indent=1)
    rng = np.random.default_rng(seed)
    sd = make_weights(cfg, rng, stored_head, logits_bias)
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), sd)
    ref = Ref(cfg, sd)
    V = t['vocab_size']
    for name, (image_tokens, prompt_tokens, positions) in cases.items():
        features = rng.normal(0, 1, (1, image_tokens, t['d_model'])).astype(np.float32)
        # A prompt as the tokenizer writes it, <s> … </s>; the decoder starts at decoder_start_token_id, then <s>
        # (forced_bos_token_id), then arbitrary ids.
        input_ids = np.concatenate([[0], rng.integers(3, V, prompt_tokens - 2), [2]])[None].astype(np.int64)
        decoder_ids = np.concatenate([[2, 0], rng.integers(0, V, positions - 2)])[None].astype(np.int64)
        embeds = ref.inputs_embeds(features, input_ids)
        state = np.asarray(ref.encoder(embeds), np.float32)
        out = {
            'image_features': features,
            'input_ids': input_ids,
            'encoder_inputs_embeds': np.asarray(embeds, np.float32),
            'encoder_last_hidden_state': state,
            'decoder_input_ids': decoder_ids,
            # Over the float32 encoder state stored here, which is what the Java test feeds the decoder.
            'decoder_logits': np.asarray(ref.decoder_logits(decoder_ids, state), np.float32),
        }
        write_safetensors(os.path.join(out_dir, 'case_' + name + '.safetensors'), out)
        print(out_dir, name, {k: a.shape for k, a in out.items()})


if __name__ == '__main__':
    # Config C: encoder and decoder differ in heads (3 vs 6), depth and ffn width; a stored lm_head unlike shared
    # (tie_word_embeddings false, so the reference keeps them apart), a non-zero final_logits_bias, 40 positions.
    main(os.path.join(HERE, 'C'), {
        'vocab_size': 53, 'd_model': 48, 'encoder_layers': 3, 'encoder_attention_heads': 3, 'encoder_ffn_dim': 80,
        'decoder_layers': 2, 'decoder_attention_heads': 6, 'decoder_ffn_dim': 112, 'max_position_embeddings': 40,
        'num_hidden_layers': 3, 'tie_word_embeddings': False,
    }, True, True, {'full40': (31, 9, 4), 'short12': (5, 7, 4)})
    # Config D: one encoder layer, more decoder layers than encoder, a decoder ffn narrower than d_model, no stored
    # lm_head (tied to shared) and no final_logits_bias (zero).
    main(os.path.join(HERE, 'D'), {
        'vocab_size': 37, 'd_model': 32, 'encoder_layers': 1, 'encoder_attention_heads': 2, 'encoder_ffn_dim': 64,
        'decoder_layers': 3, 'decoder_attention_heads': 4, 'decoder_ffn_dim': 24, 'max_position_embeddings': 20,
        'num_hidden_layers': 1,
    }, False, False, {'full20': (11, 9, 6), 'tiny3': (1, 2, 3)})
