import { withoutSourcesContent } from '../../../src/runtime/workflow-bundle';

const inline = (map: object): string =>
  `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;

const mapOf = (code: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(code.slice(code.lastIndexOf('base64,') + 7).trim(), 'base64').toString());

test('withoutSourcesContent keeps the code and every map field but sourcesContent', () => {
  const map = {
    version: 3,
    file: 'b.js',
    sources: ['a.ts'],
    names: ['f'],
    mappings: 'AAAA;AACA',
    sourcesContent: ['const a = 1;'],
  };
  const out = withoutSourcesContent(`var a = 1;\n${inline(map)}`);
  expect(out.startsWith('var a = 1;\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,')).toBe(
    true,
  );
  expect(mapOf(out)).toEqual({
    version: 3,
    file: 'b.js',
    sources: ['a.ts'],
    names: ['f'],
    mappings: 'AAAA;AACA',
  });
});

test('a bundle without an inline source map is refused (the SDK needs one)', () => {
  expect(() => withoutSourcesContent('var a = 1;\n')).toThrow(/no inline source map/);
});
