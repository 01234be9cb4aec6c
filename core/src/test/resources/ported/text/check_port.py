# Validates the port: the tiny golden model's encoder inputs, encoder states and teacher-forced logits, from the
# genuine implementation, within float32 noise.
import glob, json, os, struct, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bart_port import Ref
from port_common import TINY, read_safetensors as read_st


cfg = json.load(open(os.path.join(TINY, 'model', 'config.json')))
ref = Ref(cfg, read_st(os.path.join(TINY, 'model', 'model.safetensors')))
images = {os.path.basename(p).split('_', 1)[1][:-len('.safetensors')]: read_st(p)
          for p in glob.glob(os.path.join(TINY, 'cases', 'image*.safetensors'))}
worst = {'encoder_inputs_embeds': 0.0, 'encoder_last_hidden_state': 0.0, 'decoder_logits': 0.0, 'top10': 0.0}
full = 0
cases = json.load(open(os.path.join(TINY, 'index.json')))['cases']
for case in cases:
    g = read_st(os.path.join(TINY, case['arrays_file']))
    diff = lambda a, b: float(np.abs(a - b).max())
    embeds = ref.inputs_embeds(images[case['image']]['image_features'], np.array([case['input_ids']]))
    worst['encoder_inputs_embeds'] = max(worst['encoder_inputs_embeds'], diff(embeds, g['encoder_inputs_embeds']))
    state = ref.encoder(g['encoder_inputs_embeds'])
    worst['encoder_last_hidden_state'] = max(worst['encoder_last_hidden_state'],
                                             diff(state, g['encoder_last_hidden_state']))
    logits = ref.decoder_logits(np.array([case['decoder_input_ids']]), g['encoder_last_hidden_state'])
    if 'decoder_logits' in g:
        worst['decoder_logits'] = max(worst['decoder_logits'], diff(logits, g['decoder_logits']))
        full += 1
    top = np.take_along_axis(logits, g['decoder_logits_top10_ids'], -1)
    worst['top10'] = max(worst['top10'], diff(top, g['decoder_logits_top10_values']))
print(len(cases), 'cases,', full, 'with full logits; max abs diff vs golden:')
for k, v in worst.items():
    print('  %-26s %.2e' % (k, v))
