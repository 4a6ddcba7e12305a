import { describeTemplate } from "../support/scaffold.ts"

describeTemplate("lobby", { typecheck: false })
