/**
 * A tiny React renderer without a DOM, on react-reconciler (the engine
 * react-dom runs on): host elements become plain objects, so a test renders
 * real components with real hooks and effects, StrictMode included, and reads
 * what they rendered as text. Updates flush the way react-dom flushes them
 * (a store's change renders in a microtask), so a test waits for a condition
 * rather than wrapping every step in act().
 */
import { createContext, type ReactNode } from "react"
import Reconciler from "react-reconciler"
import { ConcurrentRoot, DefaultEventPriority } from "react-reconciler/constants"

interface HostNode {
  type: string
  props: Record<string, unknown>
  children: (HostNode | HostText)[]
}
interface HostText {
  text: string
}
interface Container {
  children: (HostNode | HostText)[]
}

type Parent = HostNode | Container
const remove = (parent: Parent, child: HostNode | HostText) => parent.children.splice(parent.children.indexOf(child), 1)
const insert = (parent: Parent, child: HostNode | HostText, before: HostNode | HostText) => {
  if (parent.children.includes(child)) remove(parent, child)
  parent.children.splice(parent.children.indexOf(before), 0, child)
}
const append = (parent: Parent, child: HostNode | HostText) => {
  if (parent.children.includes(child)) remove(parent, child)
  parent.children.push(child)
}
const ownProps = (props: Record<string, unknown>) => Object.fromEntries(Object.entries(props).filter(([k]) => k !== "children"))

let priority: number = DefaultEventPriority
const noop = () => {}

const reconciler = Reconciler({
  rendererPackageName: "baton-test-renderer",
  rendererVersion: "0.0.0",
  supportsMutation: true,
  supportsPersistence: false,
  supportsHydration: false,
  supportsMicrotasks: true,
  supportsResources: false,
  supportsSingletons: false,
  supportsTestSelectors: false,
  isPrimaryRenderer: true,
  warnsIfNotActing: false,
  noTimeout: -1,
  NotPendingTransition: null,
  HostTransitionContext: createContext<unknown>(null),
  scheduleTimeout: setTimeout,
  cancelTimeout: (id: ReturnType<typeof setTimeout>) => clearTimeout(id),
  scheduleMicrotask: queueMicrotask,
  createInstance: (type: string, props: Record<string, unknown>): HostNode => ({ type, props: ownProps(props), children: [] }),
  createTextInstance: (text: string): HostText => ({ text }),
  appendInitialChild: append,
  appendChild: append,
  appendChildToContainer: append,
  insertBefore: insert,
  insertInContainerBefore: insert,
  removeChild: remove,
  removeChildFromContainer: remove,
  finalizeInitialChildren: () => false,
  shouldSetTextContent: () => false,
  getRootHostContext: () => ({}),
  getChildHostContext: (parent: object) => parent,
  getPublicInstance: (instance: unknown) => instance,
  prepareForCommit: () => null,
  resetAfterCommit: noop,
  preparePortalMount: noop,
  clearContainer: (container: Container) => {
    container.children = []
  },
  commitUpdate: (instance: HostNode, _type: string, _prev: unknown, next: Record<string, unknown>) => {
    instance.props = ownProps(next)
  },
  commitTextUpdate: (text: HostText, _prev: string, next: string) => {
    text.text = next
  },
  commitMount: noop,
  resetTextContent: noop,
  hideInstance: noop,
  hideTextInstance: noop,
  unhideInstance: noop,
  unhideTextInstance: noop,
  detachDeletedInstance: noop,
  beforeActiveInstanceBlur: noop,
  afterActiveInstanceBlur: noop,
  getInstanceFromNode: () => null,
  getInstanceFromScope: () => null,
  prepareScopeUpdate: noop,
  setCurrentUpdatePriority: (p: number) => {
    priority = p
  },
  getCurrentUpdatePriority: () => priority,
  resolveUpdatePriority: () => priority || DefaultEventPriority,
  trackSchedulerEvent: noop,
  resolveEventType: () => null,
  resolveEventTimeStamp: () => -1.1,
  shouldAttemptEagerTransition: () => false,
  requestPostPaintCallback: noop,
  maySuspendCommit: () => false,
  maySuspendCommitOnUpdate: () => false,
  maySuspendCommitInSyncRender: () => false,
  preloadInstance: () => true,
  startSuspendingCommit: noop,
  suspendInstance: noop,
  waitForCommitToBeReady: () => null,
  getSuspendedCommitReason: () => null,
  resetFormInstance: noop,
  bindToConsole: undefined,
})

/** A mounted root: render into it, read its text, unmount it. */
export interface TestRoot {
  /** Renders (or re-renders) `element`, synchronously, effects included. */
  render(element: ReactNode): void
  /** Every text rendered, in order, joined by single spaces (what a player would read). */
  text(): string
  /** The props of the first host element of this type (e.g. "button"), or undefined. */
  find(type: string, where?: (props: Record<string, unknown>) => boolean): Record<string, unknown> | undefined
  /** Unmounts everything, synchronously: every effect's cleanup runs. */
  unmount(): void
}

/** A new root. `strict`: the whole tree runs in StrictMode (development builds mount, unmount and mount again). */
export function createRoot(opts: { strict?: boolean } = {}): TestRoot {
  const container: Container = { children: [] }
  const errors: unknown[] = []
  const root = reconciler.createContainer(container, ConcurrentRoot, null, opts.strict ?? false, null, "", (e: unknown) => errors.push(e), noop, noop, noop)
  const commit = (element: ReactNode) => {
    reconciler.updateContainerSync(element, root, null, null)
    reconciler.flushSyncWork()
    const error = errors.shift()
    if (error) throw error
  }
  const walk = function* (nodes: (HostNode | HostText)[]): Generator<HostNode | HostText> {
    for (const n of nodes) {
      yield n
      if ("children" in n) yield* walk(n.children)
    }
  }
  return {
    render: commit,
    text: () =>
      [...walk(container.children)]
        .filter((n): n is HostText => "text" in n)
        .map((n) => n.text.trim())
        .filter(Boolean)
        .join(" "),
    find: (type, where = () => true) => [...walk(container.children)].find((n): n is HostNode => "type" in n && n.type === type && where(n.props))?.props,
    unmount: () => commit(null),
  }
}
