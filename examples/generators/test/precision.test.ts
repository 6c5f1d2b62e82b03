import { describe, expect, it } from 'vitest';
import { naive, withContext } from '../src/precision.js';

describe('generators example (PEP 550)', () => {
  it('a global mixes the two precisions', () => {
    expect(naive()).toEqual([
      ['0.14', '0.14286'],
      ['0.11111', '0.11111'],
      ['0.09091', '0.09091'],
    ]);
  });

  it('independent generators keep theirs', () => {
    expect(withContext()).toEqual([
      ['0.14', '0.14286'],
      ['0.11', '0.11111'],
      ['0.09', '0.09091'],
    ]);
  });
});
