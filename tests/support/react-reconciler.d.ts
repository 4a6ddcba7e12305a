// What react-renderer.ts calls of react-reconciler, declared here rather than adding @types/react-reconciler.
declare module "react-reconciler" {
  import type { ReactNode } from "react"
  interface Reconciler {
    createContainer(
      container: unknown,
      tag: number,
      hydrationCallbacks: null,
      isStrictMode: boolean,
      concurrentUpdatesByDefault: null,
      identifierPrefix: string,
      onUncaughtError: (error: unknown) => void,
      onCaughtError: (error: unknown) => void,
      onRecoverableError: (error: unknown) => void,
      onDefaultTransitionIndicator: () => void,
    ): unknown
    updateContainerSync(element: ReactNode, root: unknown, parent: null, callback: null): void
    flushSyncWork(): void
  }
  export default function createReconciler(hostConfig: Record<string, unknown>): Reconciler
}
declare module "react-reconciler/constants" {
  export const ConcurrentRoot: number
  export const DefaultEventPriority: number
}
