import { describeTemplate } from "../support/scaffold.ts"

describeTemplate("turn-based", { typecheck: true })
