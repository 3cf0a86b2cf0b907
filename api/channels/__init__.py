"""Bot channels: answer questions where staff already talk (DingTalk robots, WeCom applications).

crypto: the platforms' signatures and WeCom's message encryption; split: answers within each
platform's message size (UTF-8 bytes); store: channel settings, replay memory and conversation
history in the state database; core: one chat message through api.answering, in time or later."""
