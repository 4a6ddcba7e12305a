import { describeTemplate } from "../support/scaffold.ts"

// The React template type-checks too: its pages are TSX, checked against the installed React types and batonjs/react.
describeTemplate("react", { typecheck: true })
