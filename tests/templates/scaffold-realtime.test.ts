import { describeTemplate } from "../support/scaffold.ts"

describeTemplate("realtime", { typecheck: false })
