/**
 * import() of an ES-only package by name, through one function that a host can replace: the
 * code-cached bundle (code-cache.ts) runs as a vm.Script, where Node 20 gives import() no loader
 * without --experimental-vm-modules, so that bundle's host hands in its own import().
 */
type Importer = (specifier: string) => Promise<unknown>;

let importer: Importer = (specifier) => import(specifier);

export function importPackage<T>(name: string): Promise<T> {
  return importer(name) as Promise<T>;
}

/** Makes importPackage use `host` (an import() that works where this code runs). */
export function useImporter(host: Importer): void {
  importer = host;
}
