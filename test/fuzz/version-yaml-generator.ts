/**
 * Generates version.yaml documents for the differential fuzzer (version-fuzz.ts): seeded, so the
 * same (seed, index) always gives the same document.
 *
 * A document is a random tree (mappings and sequences, block and flow, nested; anchors, aliases
 * and tags) rendered with random layout (every scalar style, chomping and indentation indicators,
 * continuation lines, comments, document markers and directives), then, for some documents,
 * mutated as text (odd line breaks, byte order marks, tabs, non-printable characters, a line moved
 * to another column, a character dropped or added).
 *
 * Each document draws its own knobs. About half are clean: valid YAML with a mapping on top, every
 * YAML 1.1 scalar form and style, so both readers must accept them and agree on every value. The
 * others turn on a few risky knobs each (tags, undefined or cyclic aliases, odd keys, indicator
 * characters, continuation lines at the parent's column or column 0, odd escapes and line breaks,
 * long text, directives and extra documents, text mutations), so that refusals are probed one or
 * two causes at a time rather than drowned in many.
 */
import { Random } from './random.js';

type Props = { anchor?: string; tag?: string };
type ScalarStyle = 'plain' | 'single' | 'double' | 'literal' | 'folded';
type ScalarNode = { kind: 'scalar'; text: string; style: ScalarStyle } & Props;
type SeqNode = { kind: 'seq'; items: YamlNode[]; flow: boolean } & Props;
type MapNode = { kind: 'map'; entries: Array<[YamlNode, YamlNode]>; flow: boolean } & Props;
type AliasNode = { kind: 'alias'; name: string };
type YamlNode = ScalarNode | SeqNode | MapNode | AliasNode;

/** The documents of one fuzz run: document i depends on the seed and i only. */
export function generateDocuments(seed: number, count: number, first = 0): string[] {
  const documents: string[] = [];
  for (let i = first; i < first + count; i++) documents.push(generateDocument(seed, i));
  return documents;
}

export function generateDocument(seed: number, index: number): string {
  return new Generator(new Random(seed, index)).document();
}

/** Probabilities of the risky features in one document; a clean document has them all off. */
interface Knobs {
  tags: number;
  /** Aliases to anchors not (yet) defined, or to the collection they are in. */
  badAliases: number;
  oddKeys: number;
  /** Values made of YAML indicator characters, in any style. */
  indicators: number;
  oddUnicode: number;
  /** Continuation lines at the parent's column or at column 0. */
  unindent: number;
  oddEscapes: number;
  longText: number;
  comments: number;
  /** Properties glued to their value (&a[x]), explicit keys with the ":" out of line. */
  oddSpacing: number;
  stream: number;
  mutate: number;
}

const CLEAN: Knobs = {
  tags: 0,
  badAliases: 0,
  oddKeys: 0,
  indicators: 0,
  oddUnicode: 0,
  unindent: 0,
  oddEscapes: 0,
  longText: 0,
  comments: 0,
  oddSpacing: 0,
  stream: 0,
  mutate: 0,
};

const RISKY: Knobs = {
  tags: 0.15,
  badAliases: 0.4,
  oddKeys: 0.15,
  indicators: 0.15,
  oddUnicode: 0.1,
  unindent: 0.2,
  oddEscapes: 0.3,
  longText: 0.1,
  comments: 0.15,
  oddSpacing: 0.3,
  stream: 1,
  mutate: 1,
};

const WORDS = ['a', 'b', 'c', 'd', 'version', 'build', 'name', 'x', 'etl', 'nightly', 'gpu', 'model_v2', 'k-1', 'é', 'π', '值'];
const ANCHORS = ['a', 'b', 'v', 'anchor-1', 'x_y', 'A9'];
const ODD_ANCHORS = ['😀', 'a.b', 'é', 'a:b', 'a#', 'x]'];
const TAGS = [
  '!!str',
  '!!int',
  '!!float',
  '!!bool',
  '!!null',
  '!!map',
  '!!seq',
  '!!timestamp',
  '!!binary',
  '!!python/object:os.system',
  '!x',
  '!',
  '!<tag:yaml.org,2002:str>',
  '!<!x>',
  '!e!x',
];
const BOOLS = [
  'yes',
  'Yes',
  'YES',
  'no',
  'No',
  'NO',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  'on',
  'On',
  'ON',
  'off',
  'Off',
  'OFF',
];
const NOT_BOOLS = ['y', 'Y', 'n', 'N', 'tRue', 'yES', 'oN', 'nO', 'yes!', 'offf'];
const NULLS = ['~', 'null', 'Null', 'NULL', 'nULL', ''];
/** Texts made of YAML indicators: fine in quotes, refused or read otherwise when plain. */
const INDICATORS = [
  '=',
  '<<',
  '!',
  '&',
  '*',
  '-',
  '?',
  ':',
  '|',
  '>',
  '@x',
  '`x`',
  '%x',
  'x#y',
  'x #y',
  'a:b',
  'a: b',
  'http://h:80/p',
  '-x',
  '--',
  '---',
  '...',
  '- x',
  '? x',
  ',x',
  'x,y',
  '[x]',
  '{x}',
  'x]',
  "it's",
  'say "hi"',
  'back\\slash',
  ' lead',
  'trail ',
  '  ',
  '#x',
  '.',
  '..',
  '+',
  '-.',
  '_1',
  ':x',
  '::',
  '?x',
  'x?',
  'x?y',
  '-]',
];
const UNICODE = ['ü', 'naïve', '中文', '😀', 'e\u0301', '\u00a0', 'a\u200bb', '\u00ad', '\ue000', '\ufffd', '\u{10000}'];
const ODD_UNICODE = ['\ufeffx', 'x\u0085y', 'a\u2028b', 'a\u2029b', '\u0085', '\u200e', '\ufffe', '\x7f', '\x1b', '\x80'];
const ESCAPES = ['\\0', '\\a', '\\b', '\\t', '\\n', '\\v', '\\f', '\\r', '\\e', '\\ ', '\\"', '\\/', '\\\\', '\\N', '\\_', '\\L', '\\P'];
const CODE_ESCAPES = ['\\x41', '\\x85', '\\x00', '\\x7f', '\\xA0', '\\u00e9', '\\u2028', '\\ufeff', '\\U0001F600', '\\U0001f600'];
/** Escapes the readers may treat differently: surrogates, past Unicode, short, unknown. */
const ODD_ESCAPES = [
  '\\\t',
  '\\ud800',
  '\\udfff',
  '\\ud83d\\ude00',
  '\\U0000d800',
  '\\U00110000',
  '\\x4',
  '\\u12',
  '\\q',
  "\\'",
  '\\U',
  '\\',
];

class Generator {
  private readonly knobs: Knobs;
  private readonly defined: string[] = [];
  private readonly open: string[] = [];
  /** Spaces per nesting level in this document. */
  private readonly step: number;

  constructor(private readonly random: Random) {
    const r = random;
    this.step = r.weighted([
      [6, 2],
      [2, 4],
      [1, 1],
      [1, 3],
    ]);
    if (r.chance(0.5)) {
      this.knobs = CLEAN;
    } else {
      // Each risky knob on with some chance, and at least one on.
      const knobs = { ...CLEAN };
      const names = Object.keys(RISKY) as Array<keyof Knobs>;
      for (const name of names) if (r.chance(0.2)) knobs[name] = RISKY[name];
      const forced = r.pick(names);
      knobs[forced] = RISKY[forced];
      this.knobs = knobs;
    }
  }

  document(): string {
    const r = this.random;
    const root = r.weighted<() => YamlNode>([
      [90, () => this.mapping(0, false)],
      [6, () => this.mapping(0, true)],
      [2, () => this.sequence(0, r.chance(0.5))],
      [1, () => this.scalar(false)],
      [1, () => ({ kind: 'scalar', text: '', style: 'plain' })],
    ])();
    let text = this.wrap(this.top(root));
    if (r.chance(this.knobs.mutate)) text = this.mutate(text);
    return text;
  }

  // ------------------------------------------------------------------ the tree

  private node(depth: number, inFlow: boolean): YamlNode {
    const r = this.random;
    if (r.chance(0.04)) return this.alias();
    const kind = depth < 4 ? r.weighted(this.collectionOdds(depth)) : 'scalar';
    // A collection's anchor is open while its content is made: an alias to it makes a cycle.
    const anchor = r.chance(0.05) ? this.anchorName() : undefined;
    if (anchor !== undefined) this.open.push(anchor);
    let node: ScalarNode | SeqNode | MapNode;
    if (kind === 'map') node = this.mapping(depth + 1, inFlow || r.chance(0.35));
    else if (kind === 'seq') node = this.sequence(depth + 1, inFlow || r.chance(0.35));
    else node = this.scalar(inFlow);
    if (anchor !== undefined) {
      this.open.pop();
      node.anchor = anchor;
      this.defined.push(anchor);
    }
    if (r.chance(this.knobs.tags)) node.tag = r.pick(TAGS);
    return node;
  }

  private collectionOdds(depth: number): Array<[number, 'scalar' | 'map' | 'seq']> {
    const nested = depth === 0 ? 14 : 8;
    return [
      [100 - 2 * nested, 'scalar'],
      [nested, 'map'],
      [nested, 'seq'],
    ];
  }

  private anchorName(): string {
    return this.random.chance(this.knobs.badAliases / 4) ? this.random.pick(ODD_ANCHORS) : this.random.pick(ANCHORS);
  }

  private alias(): YamlNode {
    const r = this.random;
    if (r.chance(this.knobs.badAliases)) {
      const open = this.open.length > 0 && r.chance(0.4);
      return { kind: 'alias', name: open ? r.pick(this.open) : this.anchorName() };
    }
    if (this.defined.length === 0) return this.scalar(true);
    return { kind: 'alias', name: r.pick(this.defined) };
  }

  private mapping(depth: number, flow: boolean): MapNode {
    const r = this.random;
    const count = r.weighted([
      [1, 0],
      [7, r.between(1, 4)],
      [2, r.between(5, 8)],
    ]);
    const used = new Set<string>();
    const entries: Array<[YamlNode, YamlNode]> = [];
    for (let i = 0; i < count; i++) entries.push([this.key(used), this.node(depth, flow)]);
    return { kind: 'map', entries, flow };
  }

  private sequence(depth: number, flow: boolean): SeqNode {
    const r = this.random;
    const count = r.weighted([
      [1, 0],
      [8, r.between(1, 4)],
    ]);
    const items: YamlNode[] = [];
    for (let i = 0; i < count; i++) items.push(this.node(depth, flow));
    return { kind: 'seq', items, flow };
  }

  private key(used: Set<string>): YamlNode {
    const r = this.random;
    if (r.chance(this.knobs.oddKeys)) {
      if (r.chance(0.1)) return this.alias();
      if (r.chance(0.05)) return this.sequence(5, true);
      const text = r.weighted<() => string>([
        [3, () => this.number()],
        [3, () => r.pick([...BOOLS, ...NULLS, ...NOT_BOOLS])],
        [2, () => this.timestamp()],
        [3, () => r.pick(INDICATORS)],
        [2, () => r.pick([...UNICODE, ...ODD_UNICODE])],
        // Around the 1024 characters an implicit key may take to its ":".
        [2, () => 'k'.repeat(r.chance(0.5) ? r.between(1015, 1030) : r.between(1000, 1100))],
        [2, () => `${r.pick(WORDS)} ${r.pick(WORDS)}`],
        [3, () => (used.size > 0 ? r.pick([...used]) : 'a')],
      ])();
      return { kind: 'scalar', text, style: this.keyStyle(), ...(r.chance(0.1) ? { anchor: this.anchorName() } : {}) };
    }
    // Plain words, each once per mapping; numbers and other resolved forms only quoted.
    let text = r.chance(0.9) ? r.pick(WORDS) : r.pick([this.number(), r.pick(BOOLS), this.timestamp(), r.pick(UNICODE)]);
    if (used.has(text)) text = `${text}${used.size}`;
    used.add(text);
    const plain = /^[\p{L}_][\p{L}\p{N}_-]*$/u.test(text) && !BOOLS.includes(text) && !NULLS.includes(text);
    return { kind: 'scalar', text, style: plain ? this.keyStyle() : this.random.pick(['single', 'double']) };
  }

  private keyStyle(): ScalarStyle {
    return this.random.weighted<ScalarStyle>([
      [80, 'plain'],
      [10, 'single'],
      [10, 'double'],
    ]);
  }

  private scalar(inFlow: boolean): ScalarNode {
    const r = this.random;
    const text = r.weighted<() => string>([
      [30, () => this.number()],
      [10, () => r.pick([...BOOLS, ...NOT_BOOLS])],
      [5, () => r.pick(NULLS)],
      [6, () => this.timestamp()],
      [30, () => this.words()],
      [5, () => r.pick(UNICODE) + (r.chance(0.5) ? r.pick(WORDS) : '')],
      [10, () => this.lines()],
      [this.knobs.indicators * 60, () => r.pick(INDICATORS)],
      [this.knobs.oddUnicode * 60, () => r.pick(ODD_UNICODE)],
      [this.knobs.longText * 60, () => 'x'.repeat(r.between(100, 2000))],
    ])();
    const block = !inFlow && r.chance(0.2);
    if (block) return { kind: 'scalar', text, style: r.pick(['literal', 'folded']) };
    const quoted = r.pick<ScalarStyle>(['single', 'double']);
    // Plain where plain reads back as this text, else quoted; indicators may go plain anyway.
    const plain = plainSafe(text, inFlow) || r.chance(this.knobs.indicators);
    return { kind: 'scalar', text, style: plain && r.chance(0.7) ? 'plain' : quoted };
  }

  /** YAML 1.1 numbers and near misses: every form the resolvers know, and ones they must not. */
  private number(): string {
    const r = this.random;
    const digits = (min: number, max: number, alphabet = '0123456789') => {
      let text = '';
      const length = r.chance(0.02) ? r.between(90, 110) : r.between(min, max);
      for (let i = 0; i < length; i++) text += r.chance(0.1) ? '_' : alphabet[r.int(alphabet.length)];
      return text;
    };
    const sign = r.weighted([
      [6, ''],
      [2, '-'],
      [1, '+'],
    ]);
    const exponent = () => `${r.pick(['e', 'E'])}${r.pick(['', '+', '-'])}${digits(1, 3)}`;
    return r.weighted<() => string>([
      [10, () => sign + r.pick(['0', '7', '42', '1000', '12345678901234567890'])],
      [6, () => sign + r.between(1, 9) + digits(0, 8)],
      [4, () => `${sign}0${digits(1, 4, '01234567')}`],
      [2, () => `${sign}0${digits(1, 3)}`],
      [3, () => `${sign}0${r.pick(['x', 'X'])}${digits(0, 6, '0123456789abcdefABCDEF')}`],
      [3, () => `${sign}0${r.pick(['b', 'B'])}${digits(0, 8, '01')}`],
      [2, () => `${sign}0o${digits(1, 3, '01234567')}`],
      [8, () => `${sign}${digits(1, 4)}.${digits(0, 4)}${r.chance(0.3) ? exponent() : ''}`],
      [3, () => `${sign}.${digits(1, 4)}${r.chance(0.3) ? exponent() : ''}`],
      [3, () => `${sign}${digits(1, 3)}${exponent()}`],
      [3, () => sign + r.pick(['.inf', '.Inf', '.INF', '.iNf', 'inf', '.nan', '.NaN', '.NAN', '.nAn', 'nan', 'Infinity'])],
      [
        4,
        () =>
          `${sign}${r.between(0, 99)}:${r.between(0, 99)}${r.chance(0.4) ? `:${r.between(0, 70)}` : ''}${r.chance(0.3) ? `.${digits(1, 3)}` : ''}`,
      ],
      [
        2,
        () =>
          r.pick([
            '1.2.3',
            '1.e+5',
            '1e',
            '1.0e+',
            '0x1.8p3',
            '1__2_',
            '0b_',
            '0x_',
            '0_',
            '._5',
            '1.0e+3_',
            '1,000',
            '0.30000000000000004',
            '1.7976931348623157e+308',
            '1.0e+400',
            '5e-324',
            '1.0e-400',
            '-0.0',
            '9007199254740993',
          ]),
      ],
    ])();
  }

  private timestamp(): string {
    const r = this.random;
    const two = (max: number) => String(r.between(0, max)).padStart(r.chance(0.9) ? 2 : 1, '0');
    let text = `${r.between(1999, 2030)}-${two(13)}-${two(32)}`;
    if (r.chance(0.6)) {
      text += `${r.pick(['T', 't', ' ', '  '])}${two(24)}:${two(60)}:${two(60)}`;
      if (r.chance(0.4)) text += `.${r.between(0, 999_999)}`;
      if (r.chance(0.5)) text += r.pick(['Z', '+05:00', '-5', ' -05:00', '+0530', ' Z']);
    }
    return text;
  }

  private words(): string {
    const r = this.random;
    return r.weighted<() => string>([
      [5, () => r.pick(WORDS)],
      [3, () => `${r.between(0, 9)}.${r.between(0, 20)}.${r.between(0, 99)}`],
      [3, () => `${r.pick(WORDS)}-${r.pick(WORDS)}`],
      [2, () => `${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}`],
      [1, () => `${r.pick(WORDS)}/${r.pick(WORDS)}.${r.pick(['yaml', 'py'])}`],
    ])();
  }

  /** Text of several lines, blank lines and leading spaces included. */
  private lines(): string {
    const r = this.random;
    const lines: string[] = [];
    const count = r.between(2, 4);
    for (let i = 0; i < count; i++) {
      lines.push(
        r.weighted([
          [6, this.words()],
          [1, ''],
          [1, `  ${this.words()}`],
          [1, this.number()],
        ]),
      );
    }
    return lines.join('\n');
  }

  // ------------------------------------------------------------------ the text

  /** The column of a continuation line of a value whose key or "-" is at column parent. */
  private column(parent: number): number {
    const r = this.random;
    if (r.chance(this.knobs.unindent)) return r.chance(0.5) ? Math.max(parent, 0) : 0;
    return (
      parent +
      r.weighted([
        [8, r.between(1, 3)],
        [1, r.between(4, 9)],
      ])
    );
  }

  private lineBreak(parent: number): string {
    return `\n${' '.repeat(this.column(parent))}`;
  }

  private comment(): string {
    const r = this.random;
    if (!r.chance(this.knobs.comments)) return r.chance(0.03) ? ' # note' : '';
    return `${r.pick([' ', '  ', ''])}#${r.pick(['', ' c', ' key: value', ' "quoted', ' - x', '#'])}`;
  }

  private propsText(node: YamlNode): string {
    if (node.kind === 'alias') return '';
    const parts = [node.anchor === undefined ? '' : `&${node.anchor}`, node.tag ?? ''].filter((part) => part !== '');
    if (this.random.chance(0.5)) parts.reverse();
    if (parts.length === 0) return '';
    return `${parts.join(' ')}${this.random.chance(this.knobs.oddSpacing) ? '' : ' '}`;
  }

  private isBlock(node: YamlNode): boolean {
    if (node.kind === 'seq') return !node.flow && node.items.length > 0;
    if (node.kind === 'map') return !node.flow && node.entries.length > 0;
    return node.kind === 'scalar' && (node.style === 'literal' || node.style === 'folded');
  }

  private top(root: YamlNode): string {
    if (root.kind === 'map' && this.isBlock(root)) return this.blockMap(root, 0, false);
    if (root.kind === 'seq' && this.isBlock(root)) return this.blockSeq(root, 0);
    return `${this.propsText(root)}${this.inline(root, -1)}\n`;
  }

  /** A block mapping at column indent; compact: its first key goes on a "- " line. */
  private blockMap(node: MapNode, indent: number, compact: boolean): string {
    const r = this.random;
    let text = '';
    const pad = ' '.repeat(indent);
    node.entries.forEach(([key, value], i) => {
      if (!(compact && i === 0)) {
        if (r.chance(this.knobs.comments)) text += `${' '.repeat(r.between(0, indent + 2))}#${r.pick(['', ' note'])}\n`;
        if (r.chance(0.05)) text += r.pick(['\n', `${' '.repeat(r.between(0, indent + 3))}\n`]);
      }
      const at = compact && i === 0 ? '' : pad;
      if (r.chance(0.05)) {
        text += `${at}${this.explicitEntry(key, value, indent)}`;
        return;
      }
      // Spaces before the ":" are allowed; a comment there is not.
      const before = r.chance(0.03) ? r.pick(['  ', ' ']) : '';
      text += `${at}${this.propsText(key)}${this.inline(key, indent)}${before}:${this.valueAfter(value, indent, true)}`;
    });
    return text;
  }

  /** "? key" and ": value" lines; the key may be a block value, the ":" out of line. */
  private explicitEntry(key: YamlNode, value: YamlNode, indent: number): string {
    const r = this.random;
    const pad = ' '.repeat(indent);
    let text = `?${this.comment()}`;
    if (key.kind === 'scalar' && r.chance(0.2)) text += ` ${this.blockScalar({ ...key, style: r.pick(['literal', 'folded']) }, indent)}`;
    else if (r.chance(0.1)) text += `\n${this.blockSeq({ kind: 'seq', items: [key], flow: false }, indent + this.step)}`;
    else if (r.chance(this.knobs.oddSpacing / 3)) {
      // "? key : value" on one line.
      return `${text} ${this.propsText(key)}${this.inline(key, indent)} :${this.valueAfter(value, indent, true)}`;
    } else text += ` ${this.propsText(key)}${this.inline(key, indent)}\n`;
    const colon = r.chance(this.knobs.oddSpacing) ? r.pick([`${' '.repeat(indent + 1)}`, `${' '.repeat(Math.max(indent - 1, 0))}`]) : pad;
    if (r.chance(0.1)) return text;
    return `${text}${colon}:${this.valueAfter(value, indent, true)}`;
  }

  private blockSeq(node: SeqNode, indent: number): string {
    const r = this.random;
    let text = '';
    const pad = ' '.repeat(indent);
    for (const item of node.items) {
      if (r.chance(this.knobs.comments)) text += `${' '.repeat(r.between(0, indent + 2))}# item\n`;
      const props = this.propsText(item);
      if (item.kind === 'map' && this.isBlock(item) && props === '' && r.chance(0.7)) {
        // The compact form: the first key on the dash's line, the others under it.
        text += `${pad}- ${this.blockMap(item, indent + 2, true)}`;
      } else if (item.kind === 'seq' && this.isBlock(item) && props === '' && r.chance(0.7)) {
        text += `${pad}- ${this.blockSeq(item, indent + 2).slice(indent + 2)}`;
      } else {
        text += `${pad}-${this.valueAfter(item, indent, false)}`;
      }
    }
    return text;
  }

  /** What follows "key:" or "-": an inline value and its line break, or a nested block. */
  private valueAfter(value: YamlNode, indent: number, inMapping: boolean): string {
    const r = this.random;
    const props = this.propsText(value);
    const head = props === '' ? this.comment() : ` ${props.trimEnd()}${this.comment()}`;
    if (value.kind === 'map' && this.isBlock(value)) return `${head}\n${this.blockMap(value, indent + this.step, false)}`;
    if (value.kind === 'seq' && this.isBlock(value)) {
      // Under a key a sequence may stand at the key's own column (an indentless sequence).
      const nested = inMapping && r.chance(0.3) ? indent : indent + this.step;
      return `${head}\n${this.blockSeq(value, nested)}`;
    }
    if (value.kind === 'scalar' && (value.style === 'literal' || value.style === 'folded')) {
      return ` ${props}${this.blockScalar(value, indent)}`;
    }
    if (value.kind === 'scalar' && value.style === 'plain' && value.text === '' && props === '') return `${this.comment()}\n`;
    return ` ${props}${this.inline(value, indent)}${this.comment()}\n`;
  }

  private blockScalar(node: ScalarNode, indent: number): string {
    const r = this.random;
    const lines = node.text.split('\n');
    const chomp = r.pick(['', '', '-', '+']);
    // An indentation indicator when the first line starts with a space (required then), or by chance.
    const needed = /^\s/.test(node.text);
    const explicit = needed || r.chance(0.2) ? r.between(1, 4) : undefined;
    const indicator = `${explicit ?? ''}`;
    const header = (node.style === 'literal' ? '|' : '>') + (r.chance(0.5) ? indicator + chomp : chomp + indicator);
    const content = explicit !== undefined ? Math.max(indent, 0) + explicit : this.column(indent);
    let text = `${header}${this.comment()}\n`;
    for (const line of lines) {
      text += line === '' ? `${' '.repeat(r.chance(0.3) ? r.between(0, content) : 0)}\n` : `${' '.repeat(content)}${line}\n`;
    }
    if (r.chance(0.2)) text += '\n'.repeat(r.between(1, 2));
    return text;
  }

  /** A node written on the current line; quoted values and flow collections may go on over lines. */
  private inline(node: YamlNode, indent: number): string {
    const r = this.random;
    if (node.kind === 'alias') return `*${node.name}`;
    if (node.kind === 'seq') {
      if (node.items.length === 0) return r.pick(['[]', '[ ]', `[${this.lineBreak(indent)}]`]);
      const items = node.items.map((item) => {
        if (item.kind === 'map' && item.flow && item.entries.length === 1 && r.chance(0.3)) {
          // A single pair in a flow sequence: [k: v].
          const [key, value] = item.entries[0]!;
          return `${this.propsText(key)}${this.inline(key, indent)}: ${this.propsText(value)}${this.inline(value, indent)}`;
        }
        return this.propsText(item) + this.inline(item, indent);
      });
      return `[${this.joinFlow(items, indent)}]`;
    }
    if (node.kind === 'map') {
      if (node.entries.length === 0) return r.pick(['{}', '{ }']);
      const entries = node.entries.map(([key, value]) => {
        const written = this.propsText(value) + this.inline(value, indent);
        return `${this.propsText(key)}${this.inline(key, indent)}:${written === '' && r.chance(0.5) ? '' : ` ${written}`}`;
      });
      return `{${this.joinFlow(entries, indent)}}`;
    }
    const style = node.style === 'literal' || node.style === 'folded' ? 'double' : node.style;
    if (style === 'plain') return this.plain(node.text, indent);
    if (style === 'single') return `'${this.folded(node.text.replace(/'/g, "''"), indent)}'`;
    return `"${this.doubleQuoted(node.text, indent)}"`;
  }

  private joinFlow(items: string[], indent: number): string {
    const r = this.random;
    let text = r.chance(0.2) ? ' ' : '';
    items.forEach((item, i) => {
      text += item;
      if (i < items.length - 1 || r.chance(0.1)) text += ',';
      // An empty entry: YAML and PyYAML refuse it in different ways.
      if (r.chance(this.knobs.oddSpacing / 10)) text += ' ,';
      if (r.chance(0.2)) text += `${r.chance(this.knobs.comments) ? ' # c' : ''}${this.lineBreak(indent)}`;
      else text += ' ';
    });
    text = text.trimEnd();
    // The closing bracket on a line of its own, at the key's column or further.
    if (r.chance(0.1)) text += `\n${' '.repeat(Math.max(indent, 0) + r.between(0, 2))}`;
    return text;
  }

  /** A plain value; a line break in its text becomes a fold, or two (a line break in the value). */
  private plain(text: string, indent: number): string {
    const r = this.random;
    if (!text.includes('\n')) return text;
    return text
      .split('\n')
      .map((line) => line.trim())
      .join(r.chance(0.5) ? this.lineBreak(indent) : `\n${this.lineBreak(indent)}`);
  }

  private folded(text: string, indent: number): string {
    return text
      .split('\n')
      .map((line, i) => (i === 0 ? line : this.lineBreak(indent) + line))
      .join('');
  }

  private doubleQuoted(text: string, indent: number): string {
    const r = this.random;
    // Written piece by piece, so that an escape goes in between two pieces, never into one.
    const pieces: string[] = [];
    for (const ch of text) {
      const code = ch.codePointAt(0)!;
      if (ch === '\\' || ch === '"') pieces.push(`\\${ch}`);
      else if (ch === '\n') {
        pieces.push(
          r.weighted([
            [2, '\\n'],
            [1, `\\${this.lineBreak(indent)}`],
            [1, `\n${this.lineBreak(indent)}`],
          ]),
        );
      } else if (code > 0x7e && r.chance(0.3)) pieces.push(escapeOf(code));
      else pieces.push(ch);
    }
    if (r.chance(0.2) || r.chance(this.knobs.oddEscapes)) {
      const pool = r.chance(this.knobs.oddEscapes) ? ODD_ESCAPES : r.chance(0.5) ? ESCAPES : CODE_ESCAPES;
      pieces.splice(r.int(pieces.length + 1), 0, r.pick(pool));
    }
    return pieces.join('');
  }

  // ------------------------------------------------------------------ the stream

  /** Directives, document markers, more documents, a byte order mark. */
  private wrap(body: string): string {
    const r = this.random;
    const odd = this.knobs.stream;
    let text = body;
    const directive = r.chance(odd * 0.3)
      ? r.pick([
          '%YAML 1.1\n',
          '%YAML 1.2\n',
          '%YAML 1.3\n',
          '%YAML 2.0\n',
          '%YAML 1.1\n%YAML 1.1\n',
          '%TAG !e! tag:example.com,2000:\n',
          '%FOO bar\n',
        ])
      : '';
    if (directive !== '' || r.chance(0.08)) text = `${directive}---${r.pick(['\n', ' # c\n'])}${text}`;
    if (r.chance(0.03)) text += '...\n';
    if (r.chance(odd * 0.2)) text += r.pick(['---\n', '---\nb: 2\n', '--- {}\n', '...\n---\n', '...\n# c\n', '--- |\n  x\n']);
    if (r.chance(odd * 0.05)) text = r.pick(['', '\n', '# only a comment\n', '---\n...\n', '...\n', '--- a: 1\n', '---a: 1\n']);
    if (r.chance(odd * 0.05)) text = `${r.pick(['...\n', '# c\n...\n', '---\n...\n'])}${text}`;
    if (r.chance(0.02 + odd * 0.05)) text = `\ufeff${text}`;
    if (r.chance(0.1) && text.endsWith('\n')) text = text.slice(0, -1);
    return text;
  }

  /** One or two changes to the text that a hand-written file might have. */
  private mutate(text: string): string {
    const r = this.random;
    let out = text;
    const times = r.between(1, 2);
    for (let i = 0; i < times; i++) {
      const at = r.int(out.length + 1);
      const lineStart = out.lastIndexOf('\n', at - 1) + 1;
      const insert = (what: string) => out.slice(0, at) + what + out.slice(at);
      out = r.weighted<() => string>([
        [8, () => out.replace(/\n/g, '\r\n')],
        [3, () => replaceOneBreak(out, r, r.pick(['\r', '\x85', '\u2028', '\u2029', '\r\r\n']))],
        [2, () => insert('\ufeff')],
        [4, () => insert('\t')],
        [3, () => `${out.slice(0, lineStart)}\t${out.slice(lineStart)}`],
        [
          4,
          () =>
            insert(
              r.pick([
                '\x00',
                '\x01',
                '\x07',
                '\x1b',
                '\x7f',
                '\x80',
                '\x9f',
                '\xa0',
                '\ud800',
                '\ufffe',
                '\uffff',
                '\u{1f600}',
                '\u{10ffff}',
              ]),
            ),
        ],
        [8, () => out.slice(0, lineStart) + out.slice(lineStart).replace(/^ +/, '')],
        [6, () => out.slice(0, lineStart) + ' '.repeat(r.between(1, 3)) + out.slice(lineStart)],
        [5, () => out.slice(0, at) + out.slice(at + 1)],
        [4, () => insert(out.charAt(at))],
        [
          5,
          () => insert(r.pick([':', ' ', '#', '-', '"', "'", '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '?', '%', '@', '\\', '\n'])),
        ],
        [2, () => out.slice(0, at)],
      ])();
    }
    return out;
  }
}

/** Whether a text written plain reads back as the same text (no indicators, no comment). */
function plainSafe(text: string, inFlow: boolean): boolean {
  if (text === '' || /^\s|\s$|\n\s|: |:$| #|\t/.test(text)) return false;
  if (/^[-?:](?:\s|$)/.test(text) || /^[,[\]{}#&*!|>'"%@`]/.test(text)) return false;
  if (/^(?:---|\.\.\.)/.test(text)) return false;
  return !inFlow || !/[,[\]{}]/.test(text);
}

function escapeOf(code: number): string {
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

function replaceOneBreak(text: string, random: Random, replacement: string): string {
  const breaks: number[] = [];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) breaks.push(i);
  if (breaks.length === 0) return text + replacement;
  const at = random.pick(breaks);
  return text.slice(0, at) + replacement + text.slice(at + 1);
}
