"""Chinese and English for the web app.

Labels that come from BPMN, DMN, forms and group names are written "中文 / English"; `label` picks
one side. The app's own words are in MESSAGES, one entry per phrase with both languages side by side.
"""

from __future__ import annotations

import copy
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "tixi_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # chrome
    "app": ("体系 · 售后服务流程", "Tixi · after-sales service"),
    "skip": ("跳到正文", "Skip to content"),
    "nav.tasks": ("待办任务", "Task inbox"),
    "nav.done": ("已办", "Done by me"),
    "nav.started": ("我发起的", "Started by me"),
    "done.title": ("已办任务", "Tasks I completed"),
    "done.none": ("您还没有完成任何任务。", "You have not completed any task yet."),
    "done.count": ("共 {n} 项", "{n} tasks"),
    "done.completed_at": ("完成时间", "Completed"),
    "done.now_at": ("案件现在", "The case now"),
    "started.title": ("我发起的案件", "Cases I started"),
    "started.none": ("您还没有发起任何案件。", "You have not started any case yet."),
    "started.count": ("共 {n} 个", "{n} cases"),
    "nav.processes": ("流程与决策表", "Processes and decisions"),
    "nav.instances": ("流程实例", "Instances"),
    "nav.sla": ("服务时限报表", "SLA report"),
    "nav.users": ("用户与组", "Users and groups"),
    "nav.external_tasks": ("外部任务", "External tasks"),
    "external.open": ("待处理的外部任务", "Open external tasks"),
    "external.none": ("没有待处理的外部任务", "No open external tasks"),
    "external.topic": ("主题", "Topic"),
    "external.lock": ("锁定", "Lock"),
    "external.locked_by": ("{worker} 锁定至 {until}", "locked by {worker} until {until}"),
    "external.unlocked": ("未锁定", "not locked"),
    "external.retries": ("剩余重试", "Retries left"),
    "external.error": ("错误", "Error"),
    "external.incident": ("故障：重试次数已用完", "incident: no retries left"),
    "external.retry": ("重试", "Retry"),
    "external.accounts": ("服务账号", "Service accounts"),
    "external.create_account": ("创建服务账号", "Create a service account"),
    "external.last_used": ("最近使用", "Last used"),
    "external.revoke": ("吊销", "Revoke"),
    "external.revoked": ("已吊销", "revoked"),
    "nav.menu": ("主菜单", "Main menu"),
    "nav.account": ("我的账户", "My account"),
    "logout": ("退出", "Log out"),
    "language": ("语言", "Language"),
    "signed_in_as": ("当前用户", "Signed in as"),
    # login
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码不正确，或用户已停用。", "Wrong username or password, or the user is disabled."),
    "login.demo": ("演示用户：每个组一个，用户名即组名，密码 demo。",
                   "Demo users: one per group, named after it, password demo."),
    # account
    "account.title": ("我的账户", "My account"),
    "account.change_password": ("修改密码", "Change password"),
    "account.current_password": ("当前密码", "Current password"),
    "account.new_password": ("新密码（至少 8 个字符）", "New password (8 characters or more)"),
    "account.changed": ("密码已修改；其他设备上的登录已结束。", "Password changed; your sessions elsewhere have ended."),
    # inbox
    "tasks.title": ("待办任务", "Task inbox"),
    "tasks.case_marks": ("序列号 · 型号 · 网点", "Serial no. · model · outlet"),
    "summary.title": ("案件摘要", "Case summary"),
    "summary.customer": ("顾客", "Customer"),
    "summary.serial_number": ("序列号", "Serial no."),
    "summary.product_model": ("型号", "Model"),
    "summary.outlet": ("网点", "Outlet"),
    "filters.saved": ("已保存的筛选", "Saved filters"),
    "filters.all": ("全部", "All"),
    "filters.name": ("筛选名称", "Filter name"),
    "filters.save": ("保存当前筛选", "Save this filter"),
    "filters.delete": ("删除筛选“{name}”", "Delete filter “{name}”"),
    "filters.due.any": ("不限", "Any"),
    "filters.due.overdue": ("仅已逾期", "Overdue only"),
    "tasks.search": ("搜索（业务编号、顾客、序列号、网点）", "Search (business key, customer, serial number, outlet)"),
    "tasks.process": ("流程", "Process"),
    "tasks.all_processes": ("全部流程", "All processes"),
    "tasks.show": ("显示", "Show"),
    "tasks.show.all": ("我的组和我的", "My groups and mine"),
    "tasks.show.mine": ("分配给我的", "Assigned to me"),
    "tasks.show.unassigned": ("未认领的", "Unclaimed"),
    "tasks.show.signing": ("请我加签的", "Signs asked of me"),
    "tasks.sign_asked": ("请您加签", "Sign asked of you"),
    "tasks.sort": ("排序", "Sort"),
    "tasks.sort.created": ("等待最久", "Waiting longest"),
    "tasks.sort.due": ("到期时间", "Due date"),
    "tasks.sort.priority": ("优先级", "Priority"),
    "tasks.filter": ("筛选", "Filter"),
    "tasks.step": ("步骤", "Step"),
    "tasks.business_key": ("业务编号", "Business key"),
    "tasks.waiting_since": ("等待自", "Waiting since"),
    "tasks.due": ("到期", "Due"),
    "tasks.assignee": ("处理人", "Assignee"),
    "tasks.groups": ("候选组", "Candidate groups"),
    "tasks.none": ("没有待办任务。", "No tasks here."),
    "tasks.count": ("共 {n} 项", "{n} tasks"),
    "tasks.claim": ("认领", "Claim"),
    "tasks.unclaim": ("放回队列", "Unclaim"),  # 退回 means "send back a step" to these users
    "tasks.open": ("打开", "Open"),
    "tasks.done": ("已完成「{step}」。", "“{step}” is done."),
    "tasks.went_to": ("案件现在在：", "The case is now at:"),
    "tasks.case_ended": ("案件已{status}。", "The case is {status}."),
    "tasks.case_between": ("案件正在等待定时器或其他系统。", "The case waits on a timer or another system."),
    "due.overdue": ("已超期", "Overdue"),
    "due.soon": ("即将到期", "Due soon"),
    "due.none": ("无时限", "No deadline"),
    "page.previous": ("上一页", "Previous"),
    "page.next": ("下一页", "Next"),
    "nav.start": ("发起流程", "Start a case"),
    "start.title": ("发起流程", "Start a case"),
    "start.none": ("您没有可发起的流程。", "There is no process you may start."),
    "start.heading": ("发起：{name}", "Start: {name}"),
    "start.business_key_hint": ("例如投诉单号、网点编号（可不填）", "e.g. a complaint number or outlet code (optional)"),
    "start.submit": ("发起", "Start"),
    "start.case_number_hint": ("留空则自动编号，如 {example}", "Leave empty for a case number such as {example}"),
    "start.not_allowed": ("只有以下组的成员可以发起此流程：{groups}", "Only members of {groups} may start this process."),
    # task page
    "task.form": ("表单", "Form"),
    "task.complete": ("提交并完成", "Submit and complete"),
    "task.completed": ("任务已完成。", "Task completed."),
    "task.case_data": ("案件数据", "Case data"),
    "task.history": ("历史", "History"),
    "task.claim_first": ("先认领此任务，才能填写并提交表单。", "Claim this task to fill in and submit its form."),
    "task.not_yours": ("此任务已由 {user} 认领。", "This task is claimed by {user}."),
    "task.no_form": ("此任务没有表单。", "This task has no form."),
    "task.invalid": ("表单有错误，请按字段提示修改。", "The form has errors; see the fields marked."),
    "task.closed": ("此任务已{status}。", "This task is {status}."),
    "task.instance": ("流程实例", "Process instance"),
    "task.decision": ("审批", "Decision"),
    "moves.title": ("退回与转交", "Send back or hand on"),
    "moves.send_back": ("退回", "Send back"),
    "moves.send_back_to": ("退回到", "Send back to"),
    "moves.send_back_confirm": ("确定把案件退回到所选步骤吗？", "Send the case back to the chosen step?"),
    "moves.colleague": ("同事", "Colleague"),
    "moves.assign": ("转交", "Hand on"),
    "moves.delegate": ("委托（办完交回）", "Delegate (comes back to you)"),
    "moves.sent_back_notice": ("{who} 退回了此步骤：", "{who} sent this step back:"),
    # 加签: the holder asks a colleague to sign; the signer answers on the same page
    "sign.title": ("加签", "Add a signer"),
    "sign.signer": ("加签人", "Signer"),
    "sign.position": ("加签方式", "When they sign"),
    "sign.position.before": ("前加签（先由对方审批，再由我决定）", "Before me (they sign first, then I decide)"),
    "sign.position.after": ("后加签（我决定后，对方同意才生效）", "After me (my decision goes through once they approve)"),
    "sign.add": ("加签", "Ask to sign"),
    "sign.waiting.before": ("正在等待 {signer} 加签（前加签）；对方审批后，您再作决定。",
                            "Waiting for {signer} to sign first (sign before); then you decide."),
    "sign.waiting.after": ("已请 {signer} 加签（后加签）：您的决定须经对方同意才生效。",
                           "{signer} is asked to sign after you: your decision goes through once they approve."),
    "sign.held": ("您的决定已提交，正在等待 {signer} 同意。", "Your decision is in; it waits for {signer} to approve."),
    "sign.asked_title": ("请您加签", "You are asked to sign"),
    "sign.asked": ("{who} 请您为此步骤加签：", "{who} asks you to sign this step:"),
    "sign.asked_position.before": ("前加签：您先审批，再由 {who} 决定", "Before: you sign first, then {who} decides"),
    "sign.asked_position.after": ("后加签：{who} 的决定须经您同意才生效", "After: {who}'s decision goes through once you approve"),
    "sign.asked_held": ("{who} 已作出决定；您同意后生效，拒绝则退回 {who} 重新决定。",
                        "{who} has decided; it goes through when you approve, and comes back to {who} if you reject."),
    "sign.approve": ("同意", "Approve"),
    "sign.reject": ("拒绝", "Reject"),
    "sign.opinion_required": ("拒绝需要填写意见。", "A rejection needs an opinion."),
    "task.opinion": ("审批意见", "Opinion"),
    "task.opinion_required": ("此决定需要填写审批意见。", "This decision needs an opinion."),
    "task.required_for_decision": ("此决定需要填写此项。", "Required for this decision."),
    "task.decide_hint": ("点击决定即认领并完成此任务。", "Choosing a decision claims and completes this task."),
    "task.case_not_running": ("此案件{status}，其任务暂不能认领或处理。", "This case is {status}: its tasks cannot be claimed or worked now."),
    "tasks.case_status": ("案件{status}", "case {status}"),
    # instances
    "instances.participant": ("参与人（用户名）", "Took part (username)"),
    "instances.started": ("发起时间", "Started"),
    "instances.started_by": ("发起人", "Started by"),
    "instances.updated": ("最近更新", "Last change"),
    "instances.count": ("共 {n} 个实例", "{n} instances"),
    "instances.none": ("没有符合条件的实例。", "No instances match."),
    "instances.suspend": ("挂起", "Suspend"),
    "instances.resume": ("恢复", "Resume"),
    "instances.retry": ("重试故障步骤", "Retry the failed step"),
    "instances.terminate": ("终止", "Terminate"),
    "instances.withdraw": ("撤回", "Withdraw"),
    "instances.withdraw_hint": ("他人处理前，发起人可撤回案件。", "Before anyone else acts on it, the starter may withdraw the case."),
    "instances.retry_variables": ("补正的变量（JSON，可不填）", "Corrected variables (JSON, optional)"),
    "instances.diagram": ("流程图", "Diagram"),
    "instances.no_layout": ("此文件没有图形布局（BPMN DI），请在建模器中绘制后重新部署。",
                            "This file has no diagram layout (BPMN DI); draw it in a modeller and deploy again."),
    "instances.waiting": ("当前等待", "Waiting now"),
    "instances.variables": ("变量", "Variables"),
    "marks.finished": ("已完成", "Finished"),
    "marks.active": ("进行中", "Active"),
    "marks.failed": ("故障", "Failed"),
    # SLA report
    "sla.chart": ("各流程时限达成情况", "Deadlines per process"),
    "sla.table": ("按流程、地区、网点", "Per process, region and outlet"),
    "sla.met": ("按时", "Met"),
    "sla.breached": ("超时", "Breached"),
    "sla.open": ("进行中", "Open"),
    "sla.total": ("合计", "Total"),
    "sla.region": ("地区", "Region"),
    "sla.outlet": ("网点", "Outlet"),
    "sla.empty": ("此期间没有时限记录。", "No deadlines in this period."),
    # users
    "users.create": ("新建用户", "Create user"),
    "users.display_name": ("显示名", "Display name"),
    "users.outlet": ("所属网点编号（网点人员）", "Outlet code (outlet staff)"),
    "users.groups": ("组", "Groups"),
    "users.members": ("{n} 人", "{n} members"),
    "users.group_id": ("组标识", "Group id"),
    "users.create_group": ("新建组", "Create group"),
    "users.list": ("用户", "Users"),
    "users.save_groups": ("保存组", "Save groups"),
    "users.active": ("启用", "active"),
    "users.disabled": ("已停用", "disabled"),
    "users.disable": ("停用", "Disable"),
    "users.enable": ("启用", "Enable"),
    "users.new_password": ("新密码", "New password"),
    "users.reset_password": ("重置密码", "Reset password"),
    # designers
    "design.deployed": ("已部署", "Deployed"),
    "design.latest": ("最新版本", "Latest version"),
    "design.new": ("新流程或新版本", "New process or version"),
    "design.new_in_modeler": ("在建模器中新建流程", "Draw a new process in the modeler"),
    "design.upload": ("上传其他建模工具制作的 .bpmn、.dmn 或 .zip 文件", "Upload a .bpmn, .dmn or .zip made in another modeller"),
    "design.check": ("检查", "Check"),
    "design.deploy": ("部署为新版本", "Deploy as a new version"),
    "design.checked": ("检查通过：", "Check passed:"),
    "design.deployed_ok": ("已部署：", "Deployed:"),
    "design.designers_only": ("只有流程设计员可以部署。", "Only process designers may deploy."),
    "design.edit": ("在建模器中编辑", "Edit in the modeler"),
    "design.start_test": ("用此版本发起测试实例", "Start a test instance of this version"),
    "design.download": ("下载 XML", "Download XML"),
    "design.modeler": ("流程建模器", "Process modeler"),
    "design.based_on": ("基于", "based on"),
    "design.properties": ("属性", "Properties"),
    "design.element": ("元素", "Element"),
    "design.id": ("标识（id）", "Id"),
    "design.form_key": ("表单", "Form"),
    "design.due": ("处理时限", "Due within"),
    "design.starters": ("可发起的组", "Groups that may start it"),
    "design.canvas": ("流程图编辑区", "Diagram editor"),
    "design.problems": ("不能部署", "Cannot deploy"),
    "design.process_props": ("流程", "Process"),
    "design.pick": ("选中元素", "Select element"),
    # common
    "field": ("字段", "Field"),
    "value": ("值", "Value"),
    "when": ("时间", "When"),
    "who": ("操作人", "Who"),
    "what": ("事件", "What"),
    "data": ("数据", "Data"),
    "status": ("状态", "Status"),
    "version": ("版本", "Version"),
    "versions": ("版本", "Versions"),
    "deployed_by": ("部署人", "Deployed by"),
    "deployed_at": ("部署时间", "Deployed at"),
    "kind": ("类型", "Kind"),
    "kind.process": ("流程", "Process"),
    "kind.decision": ("决策表", "Decision table"),
    "key": ("标识", "Key"),
    "name": ("名称", "Name"),
    "actions": ("操作", "Actions"),
    "none": ("无", "None"),
    "error": ("出错了", "Something went wrong"),
    "saved": ("已保存。", "Saved."),
    "reason": ("原因", "Reason"),
    "from": ("从", "From"),
    "to": ("至", "To"),
    "apply": ("应用", "Apply"),
    "status.running": ("运行中", "running"),
    "status.suspended": ("已挂起", "suspended"),
    "status.completed": ("已完成", "completed"),
    "status.terminated": ("已终止", "terminated"),
    "status.failed": ("故障", "failed"),
    "status.open": ("待办", "open"),
    # the organisation: network and customer archive
    "nav.network": ("服务网络", "Service network"),
    "nav.customers": ("顾客档案", "Customer archive"),
    "network.regions": ("地区（RCC）", "Regions (RCC areas)"),
    "network.region": ("地区", "Region"),
    "network.cities": ("覆盖城市", "Cities"),
    "network.central_cities": ("中心城市", "Central cities"),
    "network.outlets": ("特约服务网点档案", "Outlet register"),
    "network.all": ("全部", "All"),
    "network.agreement": ("协议", "Agreement"),
    "network.outlet_class": ("网点类别", "Outlet class"),
    "network.reason": ("原因", "Reason"),
    "network.new_outlet": ("登记网点", "Enter an outlet"),
    "network.none": ("没有符合条件的网点。", "No outlets match."),
    "network.suggested": ("建议派往的网点", "Suggested outlets"),
    "network.serves_city": ("服务顾客所在城市", "serves the customer's city"),
    "outlet.applying": ("申请中", "applying"),
    "outlet.probation": ("试用期", "probation"),
    "outlet.active": ("有效", "active"),
    "outlet.suspended": ("暂停", "suspended"),
    "outlet.revoked": ("已撤销", "revoked"),
    "outlet.ended": ("已终止合作", "ended"),
    "outlet.to.active": ("恢复", "Reinstate"),
    "outlet.to.suspended": ("暂停", "Suspend"),
    "outlet.to.revoked": ("撤销", "Revoke"),
    "customers.search": ("搜索（姓名、电话、序列号）", "Search (name, phone, serial number)"),
    "customers.phone": ("电话", "Phone"),
    "customers.city": ("城市", "City"),
    "customers.address": ("地址", "Address"),
    "customers.products": ("产品", "Products"),
    "customers.archive": ("顾客档案", "Customer record"),
    "customers.serial_number": ("序列号", "Serial number"),
    "customers.model": ("型号", "Model"),
    "customers.purchase_date": ("购买日期", "Purchase date"),
    "customers.cases": ("服务记录（投诉、退换货、回访）", "Cases (complaints, returns, return visits)"),
    "customers.return_visits": ("回访次数", "Return visits"),
    "customers.none": ("没有找到顾客。", "No customers found."),
    "customers.no_cases": ("还没有服务记录。", "No cases yet."),
    "users.region": ("所属地区（RCC 人员）", "Region code (RCC staff)"),
    "network.new_region": ("新建地区", "New region"),
    "network.comma": ("用逗号或顿号分隔", "separated by commas"),
    "customers.new": ("建立顾客档案", "New customer"),
    "customers.add_product": ("添加产品", "Add a product"),
    "customers.save": ("保存", "Save"),
    "status.cancelled": ("已取消", "cancelled"),
    "any": ("全部", "Any"),
    # the notification centre and its dead letters
    "nav.notifications": ("通知", "Notifications"),
    "nav.dead_letters": ("投递失败的通知", "Undelivered notifications"),
    "notices.unread": ("{n} 条未读", "{n} unread"),
    "notices.none": ("没有通知。", "No notifications."),
    "notices.read": ("标为已读", "Mark read"),
    "notices.read_all": ("全部标为已读", "Mark all read"),
    "notices.open": ("打开", "Open"),
    "notices.dead_none": ("没有投递失败的通知。", "Every notification was delivered."),
    "notices.channel": ("渠道", "Channel"),
    "notices.recipient": ("接收人", "Recipient"),
    "notices.reason": ("原因", "Reason"),
    "notices.attempts": ("尝试次数", "Attempts"),
    "notices.resend": ("重新发送", "Resend"),
    "notices.settings": ("通知设置", "Notification settings"),
    "notices.email": ("邮箱", "Mail address"),
    "notices.phone": ("手机号（短信）", "Mobile phone (SMS)"),
    "notices.language": ("通知语言", "Language of notifications"),
    "notices.both": ("中文 / English", "中文 / English"),
    "notices.quiet_hours": ("非工作时间不发提醒（超时通知照发）", "Hold reminders outside working hours (breaches still go)"),
    "notices.digest": ("邮件每个工作日汇总发一封（站内通知照常即时）",
                       "Mail me one digest each working day (the bell still tells at once)"),
    "notices.digest_kinds": ("或只把这些事件汇总发送：", "Or put only these events in the digest:"),
    "notices.kind.task_queued": ("任务进入我组的队列", "A task enters my group's queue"),
    "notices.kind.task_assigned": ("任务分派给我", "A task is assigned to me"),
    "notices.kind.task_delegated": ("任务委托给我", "A task is delegated to me"),
    "notices.kind.task_returned": ("任务退回给我", "A task is given back to me"),
    "notices.kind.case_ended": ("我发起的案件结束", "A case I started ends"),
    "notices.kind.mentioned": ("评论中提到我", "I am mentioned in a comment"),
    "notices.kind.deadline_near": ("期限将到", "A deadline is near"),
    "notices.kind.deadline_breached": ("已超期", "A deadline is breached"),
    "notices.kind.process_notice": ("流程发出的通知", "A notice the process sends"),
    "notices.channels": ("各事件的渠道（JSON，留空为默认：站内与邮件）", "Channels per event (JSON; empty: in the app and by mail)"),
    "notices.save": ("保存通知设置", "Save notification settings"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    # the approval record
    "record.title": ("审批记录", "Approval record"),
    "record.now": ("当前", "Now"),
    "record.waiting": ("等待「{step}」", "waiting at “{step}”"),
    "record.holder": ("处理人：{holder}", "held by {holder}"),
    "record.queue": ("待 {groups} 认领", "for {groups} to claim"),
    "record.timer": ("等待至 {at}：{name}", "waiting until {at}: {name}"),
    "record.between": ("正在等待其他系统或子流程", "waiting on another system or a sub-process"),
    "record.case_ended": ("案件已{status}", "The case is {status}"),
    "record.started": ("发起了案件", "started the case"),
    "record.decided": ("审批「{step}」", "decided “{step}”"),
    "record.completed": ("完成了「{step}」", "completed “{step}”"),
    "record.assigned": ("把「{step}」转交给 {to}", "handed “{step}” to {to}"),
    "record.delegated": ("把「{step}」委托给 {to}", "delegated “{step}” to {to}"),
    "record.comment": ("评论了「{step}」", "commented on “{step}”"),
    "record.suspended": ("挂起了案件", "suspended the case"),
    "record.resumed": ("恢复了案件", "resumed the case"),
    "record.terminated": ("终止了案件", "terminated the case"),
    "record.sent_back": ("把「{step}」退回到「{to}」", "sent “{step}” back to “{to}”"),
    "record.withdrawn": ("撤回了案件", "withdrew the case"),
    "record.sign_added": ("为「{step}」加签：{to}", "asked {to} to sign “{step}”"),
    "record.sign_decided": ("加签审批「{step}」", "signed “{step}”"),
    "record.incident": ("「{step}」出现故障", "“{step}” failed"),
    "record.incident_resolved": ("排除了故障", "resolved the failure"),
    "record.ended": ("案件结束：{step}", "the case ended: {step}"),
    "record.opinion": ("意见", "Opinion"),
    "record.attachment": ("添加了附件", "added a file"),
    "record.attachment_at": ("在「{step}」添加了附件", "added a file at “{step}”"),
    "attachments.title": ("附件", "Attachments"),
    "attachments.add": ("添加附件（照片、发票、协议：JPEG、PNG、WebP、GIF、PDF）",
                        "Add a file (photo, invoice, agreement: JPEG, PNG, WebP, GIF, PDF)"),
    "attachments.upload": ("上传", "Upload"),
    "attachments.uploaded": ("已上传", "Uploaded"),
    "attachments.at_start": ("随申请提交", "with the request"),
    "attachments.on_case": ("案件附件", "on the case"),
    "attachments.by": ("{who} · {at}", "{who} · {at}"),
    "attachments.choose": ("请先选择文件", "Choose a file first"),
    "attachments.required": ("请添加文件", "Add a file"),
    "record.engine_log": ("引擎日志（管理员）", "Engine log (admins)"),
    "fields.start": ("发起时填写", "Given at the start"),
    "fields.other": ("其他数据", "Other data"),
    "fields.by": ("{step} · {actor}", "{step} · {actor}"),
}


# History event types, as the timeline names them.
EVENTS: dict[str, tuple[str, str]] = {
    "started": ("发起", "started"),
    "task_created": ("生成任务", "task created"),
    "task_claimed": ("认领", "task claimed"),
    "task_unclaimed": ("放回队列", "task unclaimed"),
    "task_assigned": ("指派", "task assigned"),
    "task_delegated": ("委托", "task delegated"),
    "task_updated": ("修改任务", "task updated"),
    "task_completed": ("完成任务", "task completed"),
    "task_decided": ("审批", "decided"),
    "task_cancelled": ("任务取消", "task cancelled"),
    "task_sent_back": ("退回", "sent back"),
    "task_reopened": ("任务重新打开", "task reopened"),
    "withdrawn": ("撤回", "withdrawn"),
    "extra_sign_added": ("加签", "signer added"),
    "extra_sign_decided": ("加签审批", "extra sign decided"),
    "extra_sign_held": ("待加签人审批", "held for the added signer"),
    "comment_added": ("评论", "comment added"),
    "element_completed": ("步骤完成", "step completed"),
    "gateway_decision": ("网关决策", "gateway decision"),
    "decision_evaluated": ("决策表求值", "decision evaluated"),
    "call_activity_completed": ("子流程完成", "call activity completed"),
    "timer_fired": ("定时器触发", "timer fired"),
    "message_received": ("收到消息", "message received"),
    "incident": ("故障", "incident"),
    "external_task_created": ("生成外部任务", "external task created"),
    "external_task_locked": ("外部任务被锁定", "external task locked"),
    "external_task_completed": ("外部任务完成", "external task completed"),
    "external_task_failed": ("外部任务失败", "external task failed"),
    "external_task_bpmn_error": ("外部任务报告业务错误", "external task reported a BPMN error"),
    "external_task_lock_extended": ("外部任务锁定延长", "external task lock extended"),
    "external_task_unlocked": ("外部任务解锁", "external task unlocked"),
    "external_task_cancelled": ("外部任务取消", "external task cancelled"),
    "external_task_retries_set": ("外部任务重试次数重置", "external task retries set"),
    "incident_resolved": ("故障已解决", "incident resolved"),
    "suspended": ("挂起", "suspended"),
    "resumed": ("恢复", "resumed"),
    "terminated": ("终止", "terminated"),
    "ended": ("结束", "ended"),
}


# What the API's problems mean, by their `type` slug, for the pages to show in their own language;
# {instance_status} is replaced by the state's name. A slug not listed is shown as the API says it.
PROBLEMS: dict[str, tuple[str, str]] = {
    "instance-state": ("此案件{instance_status}，现在不能处理其任务。", "This case is {instance_status}; its tasks cannot be worked now."),
    "task-not-ready": ("此任务已不能这样处理（可能已被他人认领或完成），请刷新页面。",
                       "This task can no longer be handled so (someone may have claimed or completed it); reload the page."),
    "permission-denied": ("您没有权限这样做。", "You are not allowed to do this."),
    "step-not-passed": ("不能退回到该步骤：案件尚未经过它。", "Cannot send back to that step: the case has not passed it."),
    "withdraw-refused": ("此案件已不能撤回：他人已处理，或案件已结束。",
                         "This case can no longer be withdrawn: someone else has acted on it, or it has ended."),
    "awaiting-sign": ("此任务正在等待 {signer} 加签，加签完成前不能这样处理。",
                      "This task waits for {signer} to sign (加签); it cannot be handled so until they have."),
    "signer-refused": ("不能请此人加签：请选择能查看此案件的其他在职同事。",
                       "That person cannot be asked to sign: choose another active colleague who may see this case."),
    "not-found": ("找不到此项，或您无权查看。", "Not found, or not yours to see."),
    "concurrent-update": ("他人刚刚修改了此项，请刷新后重试。", "Someone else changed this just now; reload and try again."),
    "invalid-form-data": ("表单有错误，请按字段提示修改。", "The form has errors; see the fields marked."),
    "invalid-request": ("请求有错误，请按字段提示修改。", "The request has errors; see the fields marked."),
    "unauthenticated": ("登录已过期，请重新登录。", "Your login has expired; log in again."),
    "unsupported-attachment-type": ("文件内容不是允许的类型（JPEG、PNG、WebP、GIF、PDF），或与文件名不符。",
                                    "The file's content is not an allowed type (JPEG, PNG, WebP, GIF, PDF), "
                                    "or not the type its name says."),
    "attachment-too-large": ("文件太大。", "The file is too large."),
    "too-many-saved-filters": ("已保存的筛选太多（最多 20 个），请先删除一个。",
                               "Too many saved filters (at most 20); delete one first."),
    "invalid-filter-name": ("筛选名称（name）不能为空，最多 80 个字。", "The filter's name must not be empty and at most 80 characters."),
    "invalid-filter-field": ("筛选条件（query）含未知或过长的字段。", "The filter (query) has an unknown or too long field."),
}


def problem_messages(lang: str) -> dict[str, Any]:
    """The problems' texts and the state names they use, for the pages' script (app.js)."""
    side = 0 if lang == "zh" else 1
    states = ("running", "suspended", "completed", "terminated", "failed", "open", "cancelled")
    return {"problems": {code: texts[side] for code, texts in PROBLEMS.items()},
            "states": {state: MESSAGES[f"status.{state}"][side] for state in states}}


def event_label(event_type: str, lang: str) -> str:
    zh, en = EVENTS.get(event_type, (event_type, event_type.replace("_", " ")))
    return zh if lang == "zh" else en


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def translate(key: str, lang: str, **values: Any) -> str:
    zh, en = MESSAGES[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def label(text: str | None, lang: str) -> str:
    """One language of a "中文 / English" label; a label in one language only is shown as it is."""
    if not text:
        return ""
    zh, separator, en = text.partition(" / ")
    if not separator:
        return text
    return zh.strip() if lang == "zh" else en.strip()


CROSS_FIELD_KEYWORDS = ("allOf", "anyOf", "oneOf", "if", "then", "else", "dependentRequired", "dependentSchemas")


def localized_schema(schema: dict[str, Any], lang: str) -> dict[str, Any]:
    """A form's JSON Schema for the form renderer: titles, descriptions and enum titles in one language.

    Booleans become checkboxes and `x-enum-titles` become the renderer's enum titles. Rules between
    fields (`if`/`then`, `allOf`) are dropped, since JSON Editor draws a second, incomplete copy of a
    form that has them: the page checks its value against the form as written (schema_form.js).
    """
    result = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for keyword in CROSS_FIELD_KEYWORDS:
                node.pop(keyword, None)
            for key in ("title", "description"):
                if isinstance(node.get(key), str):
                    node[key] = label(node[key], lang)
            if isinstance(node.get("x-enum-titles"), list):
                node.setdefault("options", {})["enum_titles"] = [label(t, lang) for t in node.pop("x-enum-titles")]
            if node.get("type") == "boolean":
                node.setdefault("format", "checkbox")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
