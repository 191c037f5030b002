-- Argo CD health check for images.imageconfig.dev/ImageConfig.
-- The controller's conditions follow kstatus: Ready alone when resolved; Ready=False
-- with Reconciling=True while a transient error is retried; Ready=False with
-- Stalled=True when only a change to the spec, the registry or a credential helps.
-- Every condition carries the generation it was written for.
local hs = {}

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended: spec.suspend is true, so the registry is not contacted"
  return hs
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

local conditions = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    conditions[c.type] = c
  end
end

-- current is true when the controller wrote the condition for this generation of the spec.
local function current(c)
  return c.observedGeneration == nil or c.observedGeneration >= generation
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason or c.type
end

local ready, reconciling, stalled = conditions["Ready"], conditions["Reconciling"], conditions["Stalled"]

if stalled ~= nil and stalled.status == "True" and current(stalled) then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. describe(stalled)
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to resolve the image"
  return hs
end

if not current(ready) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end

if ready.status == "True" then
  local observed = 0
  if obj.status.observedGeneration ~= nil then
    observed = obj.status.observedGeneration
  end
  if observed < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the controller to resolve generation " .. generation
    return hs
  end
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready)
return hs
