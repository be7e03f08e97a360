import { CAM_METHOD_NAMES } from './explain_files.js';

/**
 * Layer to use for a CAM method: the `--layer` flag, else the loaded model's default (none for
 * the other methods). Internal: shared by the CLI and its explain worker processes.
 */
export function camLayer(method: string, flag: string | undefined, model: { readonly camLayer?: string }): string | undefined {
  return flag ?? (CAM_METHOD_NAMES.includes(method) ? model.camLayer : undefined);
}
